"""Losing access cuts the live socket: every cause registers its room leaves or disconnects as an
after-commit effect (realtime.revoke), then tells the user why (`access_ended`,
`session.revoked`). Here the effects and events are captured in order; the fault suite
(tests/faults/test_revocation.py) drives real sockets on two server processes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
import socketio

from db.auth.tables import Session
from db.billing.tables import Invoice, Purchase, RefundRequest
from db.guilds.tables import GuildMember
from realtime import emitter, revoke
from realtime.revoke import Revocation
from server.domains.auth import actions as auth
from server.domains.auth.events import SessionRevoked
from server.domains.billing.actions import purchases
from server.domains.chat import actions as chat
from server.domains.guilds import actions as guilds
from server.domains.guilds.events import AccessEnded, notify_access_ended
from server.domains.paid_access import GRACE
from server.errors import AppError, Forbidden, NotFound
from tests.factories import as_user, make_channel, make_member, make_room, make_user
from tests.realtime.paid_rows import buy_rows, stripe_says_ended


@pytest.fixture
def effects() -> Any:
    """What would leave after commit, in order: published events and revocations."""
    seen: list[tuple[str, Any]] = []

    def on_event(item: emitter.QueuedEvent) -> None:
        seen.append(("event", (item.room, item.event, msgspec.to_builtins(item.payload))))

    def on_revocation(item: Revocation) -> None:
        seen.append(("revoke", item))

    emitter._coalescer = emitter.Coalescer()
    emitter.set_sender(on_event)
    revoke.set_operator(on_revocation)
    yield seen
    emitter.set_sender(None)
    revoke.set_operator(None)


def _ended(seen: list[tuple[str, Any]]) -> list[AccessEnded]:
    return [
        msgspec.convert(payload, AccessEnded)
        for kind, value in seen
        if kind == "event"
        for _room, name, payload in [value]
        if name == "access_ended"
    ]


def _revocations(seen: list[tuple[str, Any]]) -> list[Revocation]:
    return [value for kind, value in seen if kind == "revoke"]


async def _paid_room() -> dict[str, Any]:
    """A guild with a free and a paid channel; members[0] has paid access."""
    room = await make_room(n_members=0)
    gid = room["guild"]["id"]
    room["paid"] = await make_channel(gid, name="vip", requires_paid=True)
    room["buyer"] = await make_user(display_name="buyer")
    await make_member(gid, room["buyer"]["id"], paid_access=True)
    return room


def _left_paid(room: dict[str, Any], reason: str) -> list[tuple[str, Any]]:
    """The expected order: the sockets leave the paid channel, then the user is told."""
    uid, gid, paid = room["buyer"]["id"], room["guild"]["id"], room["paid"]["id"]
    return [
        ("revoke", Revocation(kind="leave", user_id=uid, rooms=(f"channel:{paid}",))),
        (
            "event",
            (
                f"user:{uid}",
                "access_ended",
                {"type": "access_ended", "guild_id": gid, "channel_ids": [paid], "reason": reason},
            ),
        ),
    ]


# --- paid access lost -------------------------------------------------------------------------


async def test_owner_removing_paid_access_cuts_the_paid_channels(effects):
    room = await _paid_room()
    owner, slug = as_user(room["owner"]), room["guild"]["slug"]
    await guilds.check_paid_access(owner, slug, room["buyer"]["id"], False)
    assert effects == _left_paid(room, "paid_access_removed")
    effects.clear()
    await guilds.check_paid_access(owner, slug, room["buyer"]["id"], False)  # nothing left to cut
    await guilds.check_paid_access(owner, slug, room["mod"]["id"], False)  # reads by role
    assert effects == []


async def test_an_approved_refund_cuts_the_paid_channels(effects):
    room = await _paid_room()
    bought = await buy_rows(room)
    await RefundRequest.insert(
        RefundRequest(
            purchase=bought["purchase"],
            invoice=bought["invoice"],
            user=room["buyer"]["id"],
            amount_cents=1900,
            reason="no",
            status="approved",
        )
    )
    await stripe_says_ended(room, bought)
    assert effects == _left_paid(room, "refunded")
    effects.clear()
    await stripe_says_ended(room, bought)  # Stripe repeats itself: nothing more to cut
    assert effects == []


async def test_a_lost_dispute_cuts_the_paid_channels(effects):
    room = await _paid_room()
    bought = await buy_rows(room)
    await Invoice.update({Invoice.dispute_status: "lost"}).where(Invoice.id == bought["invoice"])
    await stripe_says_ended(room, bought)
    assert effects == _left_paid(room, "dispute_lost")


async def test_a_subscription_ending_otherwise_says_so(effects):
    room = await _paid_room()
    await stripe_says_ended(room, await buy_rows(room))
    assert effects == _left_paid(room, "subscription_ended")


async def test_the_end_of_the_grace_period_cuts_the_paid_channels(effects):
    room = await _paid_room()
    bought = await buy_rows(room)
    await Purchase.update(
        {
            Purchase.status: "PAST_DUE",
            Purchase.past_due_since: datetime.now(UTC) - GRACE - timedelta(hours=1),
        }
    ).where(Purchase.id == bought["purchase"])
    assert await purchases.do_end_lapsed_grace() == 1
    assert effects == _left_paid(room, "payment_grace_ended")


# --- guild removals and role changes ----------------------------------------------------------


async def test_kick_ban_and_leave_cut_every_room_of_the_guild(effects):
    room = await make_room(n_members=3)
    slug, gid, cid = room["guild"]["slug"], room["guild"]["id"], room["channel"]["id"]
    other = (await make_channel(gid, name="second"))["id"]
    mod = as_user(room["mod"])
    kicked, banned, leaver = (as_user(u) for u in room["members"])
    with pytest.raises(Forbidden):  # refused: nothing committed, nothing cut
        await guilds.check_kick(mod, slug, room["owner"]["id"], "")
    assert effects == []
    await guilds.check_kick(mod, slug, kicked.id, "")
    await guilds.check_ban(mod, slug, banned.id, "")
    await guilds.check_leave(leaver, slug)
    rooms = {f"guild:{gid}", f"channel:{cid}", f"channel:{other}"}
    assert [(r.kind, r.user_id, set(r.rooms)) for r in _revocations(effects)] == [
        ("leave", kicked.id, rooms),
        ("leave", banned.id, rooms),
        ("leave", leaver.id, rooms),
    ]
    assert [(e.reason, e.channel_ids, e.guild_id) for e in _ended(effects)] == [
        ("kick", sorted([cid, other]), gid),
        ("ban", sorted([cid, other]), gid),
        ("leave", sorted([cid, other]), gid),
    ]


async def test_a_moderator_made_member_again_leaves_the_paid_channels(effects):
    room = await _paid_room()
    owner, slug = as_user(room["owner"]), room["guild"]["slug"]
    room["buyer"] = room["mod"]  # the moderator has no paid access of their own
    result = await guilds.check_set_role(owner, slug, room["mod"]["id"], "member")
    assert result.action == "role_changed"
    assert effects == _left_paid(room, "role_changed")
    effects.clear()
    await guilds.check_set_role(owner, slug, room["mod"]["id"], "moderator")  # gains, loses none
    assert effects == []
    with pytest.raises(Forbidden):
        await guilds.check_set_role(as_user(room["mod"]), slug, room["owner"]["id"], "member")
    rows = await GuildMember.select(GuildMember.role).where(GuildMember.user == room["mod"]["id"])
    assert rows == [{"role": "moderator"}]


async def test_role_changes_over_http_are_for_the_owner_and_validated(client, login):
    from db.auth.tables import User

    room = await make_room(n_members=1)
    await User.update({User.email: "role-owner@example.com"}).where(User.id == room["owner"]["id"])
    await login(client, "role-owner@example.com")
    base = f"/api/guilds/{room['guild']['slug']}/members"
    member = room["members"][0]["id"]
    res = await client.post(f"{base}/{member}/role", json={"role": "moderator"})
    assert res.status_code == 200 and res.json()["action"] == "role_changed"
    res = await client.post(f"{base}/{member}/role", json={"role": "owner"})
    assert res.status_code == 400 and res.json()["error"]["code"] == "validation_error"


# --- sessions -----------------------------------------------------------------------------------


async def _session_of(user: dict[str, Any]) -> str:
    session_id = uuid.uuid4()
    await Session.insert(
        Session(
            id=session_id,
            user=user["id"],
            platform="weokto",
            expires_at=datetime.now(UTC) + timedelta(days=1),
        )
    )
    return str(session_id)


async def test_logout_tells_that_session_then_cuts_its_sockets(effects):
    user = await make_user()
    session_id = await _session_of(user)
    await auth.do_logout(as_user(user, session_id))
    assert effects == [
        (
            "event",
            (
                f"session:{session_id}",
                "session.revoked",
                {"type": "session.revoked", "reason": "logout", "session_id": session_id},
            ),
        ),
        ("revoke", Revocation(kind="cut_session", session_ids=(session_id,))),
    ]


async def test_revoking_another_session_of_ones_own(effects, client, login):
    me = (await login(client, "devices@example.com"))["user"]
    other_device = await _session_of(me)
    listed = (await client.get("/api/auth/sessions")).json()
    assert sorted(s["current"] for s in listed) == [False, True]
    stranger = await _session_of(await make_user())
    res = await client.delete(f"/api/auth/sessions/{stranger}")
    assert res.status_code == 404 and res.json()["error"]["code"] == "session_not_found"
    assert (await client.delete("/api/auth/sessions/not-a-uuid")).status_code == 404
    assert effects == []
    res = await client.delete(f"/api/auth/sessions/{other_device}")
    assert res.status_code == 200
    assert [kind for kind, _ in effects] == ["event", "revoke"]
    room, name, payload = effects[0][1]
    assert (room, name) == (f"session:{other_device}", "session.revoked")
    assert msgspec.convert(payload, SessionRevoked).reason == "revoked"
    assert effects[1][1] == Revocation(kind="cut_session", session_ids=(other_device,))
    assert (await client.get("/api/auth/me")).status_code == 200  # this one still works
    assert [s["current"] for s in (await client.get("/api/auth/sessions")).json()] == [True]


async def test_suspension_tells_then_disconnects_every_socket(effects):
    admin, target = await make_user(role="admin"), await make_user()
    sessions = sorted([await _session_of(target), await _session_of(target)])
    await auth.check_suspend_user(as_user(admin), target["id"])
    assert [kind for kind, _ in effects] == ["event", "revoke"]
    assert effects[0][1][:2] == (f"user:{target['id']}", "session.revoked")
    cut = effects[1][1]
    assert (cut.kind, cut.user_id, sorted(cut.session_ids)) == ("cut_user", target["id"], sessions)


async def test_a_dm_to_a_suspended_user_is_refused_with_a_clear_error(effects):
    admin, sender, target = await make_user(role="admin"), await make_user(), await make_user()
    await auth.check_suspend_user(as_user(admin), target["id"])
    with pytest.raises(AppError) as err:
        await chat.check_send_dm(as_user(sender), target["id"], "hello?", uuid.uuid4().hex)
    assert err.value.code == "recipient_suspended" and "suspended" in err.value.message
    await auth.check_reinstate_user(as_user(admin), target["id"])
    sent = await chat.check_send_dm(as_user(sender), target["id"], "welcome back", "c1")
    assert sent.message.content == "welcome back"


# --- the mechanism ------------------------------------------------------------------------------


async def test_nothing_is_cut_when_the_block_fails():
    cut: list[Revocation] = []
    revoke.set_operator(cut.append)
    try:
        from db.uow import atomic

        with pytest.raises(RuntimeError):
            async with atomic():
                revoke.leave(1, ["channel:1"])
                revoke.cut_session("s")
                raise RuntimeError("rolled back")
        assert cut == []
        async with atomic():
            revoke.leave(1, ["channel:1"])
        assert cut == [Revocation(kind="leave", user_id=1, rooms=("channel:1",))]
    finally:
        revoke.set_operator(None)


async def test_the_registry_finds_a_sessions_sockets_and_the_marker_outlives_the_cut():
    await revoke.register("sid-a", "s1")
    await revoke.register("sid-b", "s1")
    await revoke.register("sid-c", "s2")
    assert sorted(await revoke.session_sids("s1")) == ["sid-a", "sid-b"]
    assert not await revoke.is_revoked("s1")
    await revoke.cut_session_now("s1")  # no server holds these sids: the publish is harmless
    assert await revoke.is_revoked("s1") and not await revoke.is_revoked("s2")
    await revoke.unregister("sid-a", "s1")
    assert await revoke.session_sids("s1") == ["sid-b"]


def test_the_access_ended_builder_only_builds():
    built = notify_access_ended(9, 7, [5, 3], "refunded")
    assert [(o.room, o.event) for o in built] == [("user:9", "access_ended")]
    assert msgspec.convert(msgspec.to_builtins(built[0].payload), AccessEnded) == AccessEnded(
        guild_id=7, channel_ids=[3, 5], reason="refunded"
    )


async def test_joining_a_channel_just_revoked_leaves_it_again(monkeypatch):
    """The socket entered after the revocation's effect ran: the second read sees the loss."""
    room = await _paid_room()
    buyer = as_user(room["buyer"])
    entered: list[list[str]] = []
    left: list[tuple[int, list[str]]] = []

    async def leave_now(user_id: int, rooms: list[str]) -> None:
        left.append((user_id, rooms))

    async def enter(rooms: list[str]) -> None:
        entered.append(rooms)
        # The owner's removal commits while this socket is entering.
        await GuildMember.update({GuildMember.paid_access: False}).where(
            GuildMember.user == buyer.id
        )

    monkeypatch.setattr(revoke, "leave_now", leave_now)
    with pytest.raises(AppError) as err:
        await chat.check_join_channel(buyer, room["paid"]["id"], None, enter)
    assert err.value.code == "paid_required"
    assert left == [(buyer.id, [f"channel:{room['paid']['id']}"])]
    with pytest.raises(NotFound):
        await chat.check_join_channel(buyer, 10**6, None, enter)


async def test_a_socket_of_a_session_cut_meanwhile_is_refused_at_connect(live_server):
    """The connect registered its socket after the cut read the registry: the marker refuses it,
    though the session row still looks valid to the connect's first read."""
    from server.domains.auth.security import encode_session
    from tests.realtime.clients import connect

    user = await make_user()
    session_id = await _session_of(user)
    cookie = f"weokto_session={encode_session(session_id, 'weokto')}"
    first = await connect(live_server.weokto_url, cookie)  # the session works
    await first.disconnect()
    await revoke.mark_revoked([session_id])  # the cut's first step, before its commit is seen
    refused: list[Any] = []
    client = socketio.AsyncClient(reconnection=False)
    client.on("connect_error", lambda data: refused.append(data))
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(
            live_server.weokto_url,
            headers={"Cookie": cookie, "Origin": live_server.weokto_url},
            transports=["websocket"],
            wait_timeout=10,
        )
    assert refused and refused[0]["data"]["code"] == "unauthorized", refused
    assert await revoke.session_sids(session_id) == []  # the refused socket left no entry
