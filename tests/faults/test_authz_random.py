"""Random authorization attempts against an independent oracle: nobody sees what they may not.

A seeded world of two platforms (each on its own host), several guilds with public, paid and
announcement channels, and people in every standing: owners, moderators, members, paying
members, timed-out members, non-members, members who were kicked, banned, left, lost their
paid access by hand, or bought through Stripe and were refunded; plus direct messages and
blocks. Everyone has a socket on each of two web processes, and everyone who was inside a room
before losing access had both sockets there.

Then thousands of random (user, target, action) attempts: channel joins and history, sends
(with @mentions of random people), DM joins, history and sends, edits, deletes and reactions of
others' messages, read markers, typing, and sockets opened on the other platform's host. Each is
judged against the oracle below, which is written from the world's definition (who stands where)
and never calls the product's access code. Every socket listens to every push all along: an
unauthorized delivery is an allowed ack, REST answer or push that the oracle says the user may
not see. A wrongful refusal is a refused attempt the oracle allows (throttling aside).

The seed is printed and recorded; `AUTHZ_SEED=<n>` replays the same world and attempts.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import secrets
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import socketio

from db.auth.tables import Session, User
from db.billing.tables import Invoice, Purchase
from db.chat.tables import DmConversation
from db.guilds.tables import GuildMember
from server.domains.auth.security import encode_session
from tests.factories import make_channel, make_guild, make_member
from tests.faults.conftest import scaled
from tests.fixtures import until

SEED = int(os.environ.get("AUTHZ_SEED") or secrets.randbits(32))
ATTEMPTS = scaled(1_000, 10_000)
GUILDS_PER_PLATFORM = scaled(2, 3)
PEOPLE_PER_PLATFORM = scaled(14, 24)
REFUNDED = scaled(1, 2)
CALL_TIMEOUT = 10.0
COOKIE = {"weokto": "weokto_session", "stam": "stam_session"}
OTHER = {"weokto": "stam", "stam": "weokto"}
# Standings in a guild after the world's transitions. "revoked": paid access removed by the
# owner; "refunded": bought through Stripe, refunded; "buyer": bought, still paying.
MEMBER = {"owner", "moderator", "member", "paid", "timed_out", "revoked", "refunded", "buyer"}
PAYING = {"paid", "buyer"}
MODERATOR = {"owner", "moderator"}
GONE = {"kicked", "banned", "left"}
RANDOM_STANDINGS = {
    "none": 5,
    "member": 5,
    "paid": 3,
    "moderator": 1,
    "timed_out": 1,
    "kicked": 1,
    "banned": 1,
    "left": 1,
    "revoked": 1,
}
# Refusals that are not about who may see what: the answer to an allowed attempt may be one.
THROTTLED = {"rate_limited", "slow_mode", "too_many_reactions"}
# Events sent only to a user's own room (or session), about that user: nothing to judge. A
# read marker's counts follow a mark_read, whose answer is judged.
OWN_ROOM_EVENTS = {
    "session.welcome",
    "session.revoked",
    "payment_succeeded",
    "access_ended",
    "affiliate_update",
    "unread_updated",
    "resync",  # to every socket of a process after a backplane outage: carries no data
}
EMOJI = ("👍", "🎉", "❤️", "👀")


@dataclass
class Person:
    platform: str
    id: int
    name: str
    token: str
    socks: list[socketio.AsyncClient] = field(default_factory=list)  # one per web process

    @property
    def sock(self) -> socketio.AsyncClient:
        return self.socks[0]

    @property
    def cookie(self) -> str:
        return f"{COOKIE[self.platform]}={self.token}"


@dataclass
class Room:
    """A guild channel."""

    id: int
    guild: int
    platform: str
    kind: str
    paid: bool


@dataclass
class Club:
    """A guild."""

    id: int
    slug: str
    platform: str
    rooms: list[Room] = field(default_factory=list)


@dataclass
class Msg:
    id: int
    author: int
    channel: int | None
    pair: tuple[int, int] | None


@dataclass
class World:
    """The world's definition and the oracle over it (nothing here asks the product)."""

    people: dict[int, Person] = field(default_factory=dict)
    clubs: dict[int, Club] = field(default_factory=dict)
    rooms: dict[int, Room] = field(default_factory=dict)
    standing: dict[tuple[int, int], str] = field(default_factory=dict)  # (user, guild)
    blocks: set[tuple[int, int]] = field(default_factory=set)  # (blocker, blocked)
    conversations: set[tuple[int, int]] = field(default_factory=set)  # pairs, low first
    conv_pairs: dict[int, tuple[int, int]] = field(default_factory=dict)  # id -> pair
    messages: dict[int, Msg] = field(default_factory=dict)
    deleted: set[int] = field(default_factory=set)
    # Guild joins during the attempts: (user, guild) -> (step, standing before). Pushes are
    # judged as of the step they arrived in (`at`), acks as of now (`at` None).
    joined: dict[tuple[int, int], tuple[int, str]] = field(default_factory=dict)
    step: int = 0
    at: int | None = None

    def of(self, user: int, guild: int) -> str:
        change = self.joined.get((user, guild))
        if change is not None and self.at is not None and self.at < change[0]:
            return change[1]
        return self.standing.get((user, guild), "none")

    def may_join(self, user: int, guild: int) -> bool:
        club = self.clubs.get(guild)
        same = club is not None and club.platform == self.people[user].platform
        return same and self.of(user, guild) != "banned"

    def join(self, user: int, guild: int) -> None:
        """A successful join: the removed and outsiders come back as plain members."""
        before = self.of(user, guild)
        if before in MEMBER:
            return
        self.joined[(user, guild)] = (self.step, before)
        self.standing[(user, guild)] = "member"

    def member(self, user: int, guild: int) -> bool:
        same = self.people[user].platform == self.clubs[guild].platform
        return same and self.of(user, guild) in MEMBER

    def moderator(self, user: int, guild: int) -> bool:
        return self.member(user, guild) and self.of(user, guild) in MODERATOR

    def can_read(self, user: int, channel: int) -> bool:
        room = self.rooms.get(channel)
        if room is None or not self.member(user, room.guild):
            return False
        standing = self.of(user, room.guild)
        return not room.paid or standing in PAYING or standing in MODERATOR

    def can_send(self, user: int, channel: int) -> bool:
        if not self.can_read(user, channel):
            return False
        room = self.rooms[channel]
        if self.of(user, room.guild) == "timed_out":
            return False
        return room.kind != "announcement" or self.moderator(user, room.guild)

    def dm_partner(self, user: int, other: int) -> bool:
        them = self.people.get(other)
        return them is not None and other != user and them.platform == self.people[user].platform

    def sees_message(self, user: int, msg: Msg) -> bool:
        if msg.channel is not None:
            return self.can_read(user, msg.channel)
        assert msg.pair is not None
        return user in msg.pair

    def may_edit(self, user: int, msg: Msg) -> bool:
        if msg.author != user or not self.sees_message(user, msg):
            return False
        return msg.channel is None or self.of(user, self.rooms[msg.channel].guild) != "timed_out"

    def may_delete(self, user: int, msg: Msg) -> bool:
        if not self.sees_message(user, msg):
            return False
        if msg.author == user:
            return True
        return msg.channel is not None and self.moderator(user, self.rooms[msg.channel].guild)

    def may_react(self, user: int, msg: Msg) -> bool:
        if not self.sees_message(user, msg):
            return False
        return msg.channel is None or self.of(user, self.rooms[msg.channel].guild) != "timed_out"


def pair(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


@dataclass
class Tally:
    attempts: Counter[str] = field(default_factory=Counter)
    allowed: int = 0
    refused: int = 0
    throttled: int = 0
    unauthorized: list[str] = field(default_factory=list)
    wrongful: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    pushes: int = 0
    foreign: int = 0
    unclassified: list[str] = field(default_factory=list)


# --- building the world -------------------------------------------------------------------------


async def person(rng: random.Random, platform: str, n: int, role: str = "member") -> Person:
    name = f"{platform[0]}{n}x{rng.randrange(1000)}"
    row = (
        await User.insert(
            User(platform=platform, email=f"{name}@example.com", role=role, display_name=name)
        ).returning(User.id)
    )[0]
    sid = uuid.uuid4()
    await Session.insert(
        Session(
            id=sid,
            user=row["id"],
            platform=platform,
            expires_at=datetime.now(UTC) + timedelta(days=1),
            user_agent="authz-fuzz",
        )
    )
    return Person(platform, row["id"], name, encode_session(str(sid), platform))


class Api:
    """REST on the live server as a given person, on their platform's host."""

    def __init__(self, urls: dict[str, str]) -> None:
        self.http = {p: httpx.AsyncClient(base_url=u, timeout=15) for p, u in urls.items()}
        self.csrf: dict[str, str] = {}

    async def start(self) -> None:
        for platform, http in self.http.items():
            await http.get("/healthz")
            self.csrf[platform] = http.cookies["csrftoken"]

    def headers(self, who: Person) -> dict[str, str]:
        csrf = self.csrf[who.platform]
        return {"Cookie": f"{who.cookie}; csrftoken={csrf}", "x-csrftoken": csrf}

    async def get(self, who: Person, path: str) -> httpx.Response:
        return await self.http[who.platform].get(path, headers=self.headers(who))

    async def post(self, who: Person, path: str, body: Any = None) -> httpx.Response:
        res = await self.http[who.platform].post(path, json=body or {}, headers=self.headers(who))
        return res

    async def close(self) -> None:
        for http in self.http.values():
            await http.aclose()


async def build(rng: random.Random, world: World) -> dict[str, Any]:
    """Rows of the world before its transitions; returns what the transitions need."""
    plan: dict[str, Any] = {"later": [], "initial": {}}
    for platform in ("weokto", "stam"):
        people = [await person(rng, platform, n) for n in range(PEOPLE_PER_PLATFORM)]
        for p in people:
            world.people[p.id] = p
        for g in range(GUILDS_PER_PLATFORM):
            row = await make_guild(
                platform=platform, slug=f"{platform}-g{g}-{rng.randrange(10**6)}"
            )
            club = Club(row["id"], row["slug"], platform)
            world.clubs[club.id] = club
            for name, kind, paid in (
                ("general", "text", False),
                ("news", "announcement", False),
                ("vip", "text", True),
                ("vip-news", "announcement", True),
            ):
                ch = await make_channel(club.id, name=name, kind=kind, requires_paid=paid)
                room = Room(ch["id"], club.id, platform, kind, paid)
                club.rooms.append(room)
                world.rooms[room.id] = room
            owner, *others = rng.sample(people, len(people))
            world.standing[(owner.id, club.id)] = "owner"
            plan["initial"][(owner.id, club.id)] = ("owner", False)
            for p in others:
                standing = rng.choices(
                    list(RANDOM_STANDINGS), weights=list(RANDOM_STANDINGS.values())
                )[0]
                world.standing[(p.id, club.id)] = standing
                if standing == "none":
                    continue
                # Before the transitions, the removed and the revoked were paying members, so
                # their sockets sit in every room of the guild, the paid ones included.
                role = "moderator" if standing == "moderator" else "member"
                paid = standing in ("paid", "kicked", "banned", "left", "revoked")
                plan["initial"][(p.id, club.id)] = (role, paid)
                if standing in GONE or standing in ("revoked", "timed_out"):
                    plan["later"].append((standing, p.id, club.id))
    for (user, guild), (role, paid) in plan["initial"].items():
        await make_member(guild, user, role=role, paid_access=paid)
    return plan


async def open_shop(world: World, api: Api, rng: random.Random, emulator: str) -> dict[str, Any]:
    """A weokto guild sold through Stripe (the emulator) by the platform's owner."""
    seller = await person(rng, "weokto", 900, role="owner")
    world.people[seller.id] = seller
    club = next(c for c in world.clubs.values() if c.platform == "weokto")
    product = await api.post(seller, "/api/owner/products", {"name": "VIP", "guild_id": club.id})
    assert product.status_code in (200, 201), product.text
    plan = await api.post(
        seller,
        "/api/owner/plans",
        {
            "product_id": product.json()["id"],
            "name": "Monthly",
            "price_cents": 1900,
            "interval": "MONTHLY",
        },
    )
    assert plan.status_code in (200, 201), plan.text
    button = await api.post(
        seller,
        "/api/owner/payment-buttons",
        {
            "plan_id": plan.json()["id"],
            "display_name": "Go VIP",
            "success_url": "https://x.test/ok",
            "cancel_url": "https://x.test/no",
        },
    )
    assert button.status_code in (200, 201), button.text
    return {"seller": seller, "club": club, "button": button.json(), "emulator": emulator}


async def buy(api: Api, shop: dict[str, Any], buyer: Person) -> int:
    """Checkout and pay; returns the purchase id once its invoice is paid and access granted."""
    res = await api.post(
        buyer, "/api/payments/checkout", {"buttonKey": shop["button"]["button_key"]}
    )
    assert res.status_code == 200, res.text
    async with httpx.AsyncClient(base_url=shop["emulator"]) as emu:
        paid = await emu.post(
            f"/_emulator/checkout/{res.json()['session_id']}/pay", json={"card": "4242424242424242"}
        )
        assert paid.status_code == 200, paid.text

    async def granted() -> int | None:
        row = await Purchase.select().where(Purchase.user == buyer.id).first()
        if row is None:
            return None
        invoice = await Invoice.exists().where(
            (Invoice.purchase == row["id"]) & (Invoice.status == "paid")
        )
        member = await GuildMember.exists().where(
            (GuildMember.guild == shop["club"].id)
            & (GuildMember.user == buyer.id)
            & (GuildMember.paid_access == True)  # noqa: E712
        )
        return row["id"] if invoice and member else None

    return int(await until(granted, timeout=30))


async def refund(api: Api, shop: dict[str, Any], buyer: Person, purchase_id: int) -> None:
    asked = await api.post(
        buyer, "/api/refunds/request", {"purchase_id": purchase_id, "reason": "not for me"}
    )
    assert asked.status_code == 201, asked.text
    approved = await api.post(shop["seller"], f"/api/owner/refunds/{asked.json()['id']}/approve")
    assert approved.status_code == 200, approved.text

    async def ended() -> bool | None:
        still = await GuildMember.exists().where(
            (GuildMember.guild == shop["club"].id)
            & (GuildMember.user == buyer.id)
            & (GuildMember.paid_access == True)  # noqa: E712
        )
        return None if still else True

    await until(ended, timeout=30)


# --- pushes -------------------------------------------------------------------------------------


class Judge:
    """Every push every socket receives, judged against the oracle once the world is settled."""

    def __init__(self, world: World, tally: Tally) -> None:
        self.world = world
        self.tally = tally
        self.live = False
        self.seen: list[tuple[int, int, str, Any]] = []

    def listen(self, who: Person, sock: socketio.AsyncClient) -> None:
        async def any_event(event: str, data: Any = None) -> None:
            if self.live:
                self.seen.append((self.world.step, who.id, event, data))

        sock.on("*", any_event)

    async def settle(self) -> None:
        """Resolve the conversations of DM pushes, then judge every push."""
        convs = {
            r["id"]: (r["user_low"], r["user_high"])
            for r in await DmConversation.select(
                DmConversation.id, DmConversation.user_low, DmConversation.user_high
            )
        }
        names = {p.name for p in self.world.people.values()}
        for step, user, event, data in self.seen:
            if self.foreign(event, data, names):
                self.tally.foreign += 1
                continue
            self.tally.pushes += 1
            self.world.at = step
            verdict = self.verdict(user, event, data, convs)
            self.world.at = None
            if verdict is None:
                self.tally.unclassified.append(f"user {user} got {event}: {str(data)[:120]}")
            elif not verdict:
                self.tally.unauthorized.append(
                    f"push {event} to user {user} ({self.standing(user, data)}): {str(data)[:160]}"
                )

    def foreign(self, event: str, data: Any, names: set[str]) -> bool:
        """A push that another test run on this machine published. Concurrent runs share the
        Redis server, and Redis pub/sub channels are not per database: an event another run
        sends to `user:3` reaches our user 3 too. Rooms of channels and guilds are judged
        whatever their origin (only sockets our server let in are in them), but an event to a
        user's own room is ours only if it is about people of this world."""
        if event == "typing":
            return data["user"]["display_name"] not in names
        if "message" in data:
            return data["message"]["author"]["display_name"] not in names
        if event == "reaction_updated":
            msg = self.world.messages.get(data["message_id"])
            return msg is None or msg.channel != data["channel_id"]
        return False

    def standing(self, user: int, data: Any) -> str:
        """The user's standing in the guild a push is about, for the report."""
        channel = data.get("channel_id") or (data.get("message") or {}).get("channel_id")
        room = self.world.rooms.get(channel or 0)
        if room is None:
            return "no channel"
        kind = f"{'paid ' if room.paid else ''}{room.kind}"
        return f"{self.world.of(user, room.guild)} in guild {room.guild}, {kind} channel"

    def verdict(
        self, user: int, event: str, data: Any, convs: dict[int, tuple[int, int]]
    ) -> bool | None:
        w = self.world

        def stream_ok(channel_id: int | None, conversation_id: int | None) -> bool:
            if channel_id is not None:
                return w.can_read(user, channel_id)
            return user in convs.get(conversation_id or 0, ())

        def message_ok(m: dict[str, Any]) -> bool:
            return stream_ok(m.get("channel_id"), m.get("conversation_id"))

        def guild_ok(guild_id: int) -> bool:
            return guild_id in w.clubs and w.member(user, guild_id)

        if event in ("new_message", "message_edited", "message_deleted"):
            return message_ok(data["message"])
        if event == "new_dm":
            return stream_ok(None, data["conversation_id"]) and message_ok(data["message"])
        if event == "mention":
            return stream_ok(data["channel_id"], None) and message_ok(data["message"])
        if event in ("reaction_updated", "typing"):
            return stream_ok(data.get("channel_id"), data.get("conversation_id"))
        if event in ("channel_activity", "presence", "presence_batch"):
            return guild_ok(data["guild_id"])
        if event == "channel_updated":
            return guild_ok(data["channel"]["guild_id"])
        if event in ("member_removed", "member_timed_out"):
            return data["user_id"] == user or guild_ok(data["guild_id"])
        if event in OWN_ROOM_EVENTS:
            return True  # sent to the user's own room only, about themselves
        return None


# --- the attempts -------------------------------------------------------------------------------


class Fuzz:
    def __init__(
        self, world: World, api: Api, rng: random.Random, tally: Tally, urls: dict[str, str]
    ) -> None:
        self.w, self.api, self.rng, self.tally, self.urls = world, api, rng, tally, urls
        self.people = sorted(world.people)
        self.channels = sorted(world.rooms)
        self.nowhere = max(self.channels) + 1000
        self.n = 0

    def judge(
        self, kind: str, who: int, allowed: bool, ok: bool, code: str | None, what: str
    ) -> None:
        self.tally.attempts[kind] += 1
        line = f"{kind} by user {who} ({self.w.people[who].platform}) on {what}: {code or 'ok'}"
        if ok and not allowed:
            self.tally.unauthorized.append(line)
        elif not ok and allowed:
            if code in THROTTLED:
                self.tally.throttled += 1
            else:
                self.tally.wrongful.append(line)
        elif ok:
            self.tally.allowed += 1
        else:
            self.tally.refused += 1

    async def call(
        self, who: Person, event: str, data: dict[str, Any]
    ) -> tuple[bool, str | None, Any]:
        ack = await self.rng.choice(who.socks).call(event, data, timeout=CALL_TIMEOUT)
        if ack.get("ok"):
            return True, None, ack.get("data")
        if ack["error"]["code"] == "internal_error":
            self.tally.server_errors.append(f"{event} {data}: {ack}")
        if "data" in ack:  # a refusal carries nothing of what was refused
            self.tally.unauthorized.append(f"{event} {data}: refusal with data {ack}")
        return False, ack["error"]["code"], None

    # Targets: mostly of the caller's own platform (where standings differ), some of the other
    # platform, a few that do not exist.
    def pick_user(self, me: Person) -> int:
        roll = self.rng.random()
        if roll < 0.03:
            return 10**6
        mine = [u for u in self.people if self.w.people[u].platform == me.platform]
        return self.rng.choice(mine if roll < 0.8 else self.people)

    def pick_channel(self, me: Person) -> int:
        roll = self.rng.random()
        if roll < 0.03:
            return self.nowhere
        mine = [c for c in self.channels if self.w.rooms[c].platform == me.platform]
        return self.rng.choice(mine if roll < 0.8 else self.channels)

    def pick_message(self, me: Person) -> Msg | None:
        ids = sorted(self.w.messages)
        if not ids:
            return None
        mine = [i for i in ids if self.w.people[self.w.messages[i].author].platform == me.platform]
        return self.w.messages[self.rng.choice(mine if mine and self.rng.random() < 0.8 else ids)]

    def check_listing(
        self, who: int, messages: list[dict[str, Any]], want: tuple[str, int]
    ) -> None:
        column, stream = want
        for m in messages:
            if m.get(column) != stream:
                self.tally.unauthorized.append(f"user {who} asked {want} and got message {m}")

    def mentions(self) -> str:
        names = [
            self.w.people[self.rng.choice(self.people)].name for _ in range(self.rng.randrange(4))
        ]
        return " ".join(f"@{n}" for n in names)

    def remember(self, data: dict[str, Any], author: int) -> None:
        m = data["message"]
        other_pair = None
        if m["conversation_id"] is not None:
            other_pair = self.w.conv_pairs.get(m["conversation_id"])
        self.w.messages[m["id"]] = Msg(m["id"], author, m["channel_id"], other_pair)

    async def one(self, kind: str) -> None:
        w, rng = self.w, self.rng
        me = w.people[rng.choice(self.people)]
        self.n += 1
        w.step = self.n
        if kind == "join_channel":
            cid = self.pick_channel(me)
            ok, code, data = await self.call(me, "join_channel", {"channel_id": cid})
            self.judge(kind, me.id, w.can_read(me.id, cid), ok, code, f"channel {cid}")
            if ok:
                self.check_listing(me.id, data["messages"], ("channel_id", cid))
        elif kind == "history":
            cid = self.pick_channel(me)
            res = await self.api.get(me, f"/api/channels/{cid}/messages?limit=20")
            self.rest(kind, me, res, w.can_read(me.id, cid), f"channel {cid}")
            if res.status_code == 200:
                self.check_listing(me.id, res.json()["messages"], ("channel_id", cid))
        elif kind == "send_message":
            cid = self.pick_channel(me)
            body = {
                "channel_id": cid,
                "content": f"fuzz {self.n} {self.mentions()}",
                "client_msg_id": f"fz-{SEED}-{self.n}",
            }
            ok, code, data = await self.call(me, "send_message", body)
            self.judge(kind, me.id, w.can_send(me.id, cid), ok, code, f"channel {cid}")
            if ok:
                self.remember(data, me.id)
        elif kind in ("join_dm", "dm_history", "send_dm"):
            await self.dm(kind, me)
        elif kind in ("edit", "delete", "react"):
            await self.on_message(kind, me)
        elif kind == "mark_read":
            cid = self.pick_channel(me)
            ok, code, _ = await self.call(me, "mark_read", {"channel_id": cid, "seq": 1})
            self.judge(kind, me.id, w.can_read(me.id, cid), ok, code, f"channel {cid}")
        elif kind == "typing":
            cid = self.pick_channel(me)
            ok, code, _ = await self.call(me, "typing", {"channel_id": cid})
            self.judge(kind, me.id, w.can_send(me.id, cid), ok, code, f"channel {cid}")
        elif kind == "foreign_socket":
            await self.foreign_socket(me)
        elif kind == "foreign_rest":
            await self.foreign_rest(me)
        elif kind == "join_guild":
            gid = rng.choice(sorted(w.clubs))
            res = await self.api.post(me, f"/api/guilds/{w.clubs[gid].slug}/join")
            self.rest(kind, me, res, w.may_join(me.id, gid), f"guild {gid}")
            if res.status_code == 200:
                w.join(me.id, gid)

    def rest(self, kind: str, me: Person, res: httpx.Response, allowed: bool, what: str) -> None:
        if res.status_code >= 500:
            self.tally.server_errors.append(f"{kind} {what}: {res.status_code} {res.text[:200]}")
        code = None if res.status_code == 200 else res.json()["error"]["code"]
        self.judge(kind, me.id, allowed, res.status_code == 200, code, what)

    async def dm(self, kind: str, me: Person) -> None:
        w = self.w
        other = self.pick_user(me)
        partner = w.dm_partner(me.id, other)
        if kind == "join_dm":
            ok, code, data = await self.call(me, "join_dm", {"user_id": other})
            self.judge(kind, me.id, partner, ok, code, f"user {other}")
            if ok:
                conv = data["conversation"]["id"]
                self.w.conv_pairs[conv] = pair(me.id, other)
                w.conversations.add(pair(me.id, other))
                self.check_listing(me.id, data["messages"], ("conversation_id", conv))
        elif kind == "dm_history":
            res = await self.api.get(me, f"/api/dms/{other}/messages?limit=20")
            exists = partner and pair(me.id, other) in w.conversations
            self.rest(kind, me, res, exists, f"dm with {other}")
            if res.status_code == 200:
                convs = {m["conversation_id"] for m in res.json()["messages"]}
                if convs - {k for k, v in self.w.conv_pairs.items() if v == pair(me.id, other)}:
                    self.tally.unauthorized.append(f"dm history {me.id}/{other}: {convs}")
        else:
            blocked = (me.id, other) in w.blocks or (other, me.id) in w.blocks
            body = {
                "user_id": other,
                "content": f"dm {self.n}",
                "client_msg_id": f"fd-{SEED}-{self.n}",
            }
            ok, code, data = await self.call(me, "send_dm", body)
            self.judge(kind, me.id, partner and not blocked, ok, code, f"user {other}")
            if ok or code == "blocked":  # made on the way, before the block is seen
                w.conversations.add(pair(me.id, other))
            if ok:
                self.w.conv_pairs[data["message"]["conversation_id"]] = pair(me.id, other)
                self.remember(data, me.id)

    async def on_message(self, kind: str, me: Person) -> None:
        w = self.w
        msg = self.pick_message(me)
        if msg is None:
            return
        what = f"message {msg.id}"
        if kind == "edit":
            ok, code, _ = await self.call(
                me, "edit_message", {"message_id": msg.id, "content": f"edited {self.n}"}
            )
            allowed = w.may_edit(me.id, msg) and msg.id not in w.deleted
            self.judge(kind, me.id, allowed, ok, code, what)
        elif kind == "delete":
            ok, code, _ = await self.call(me, "delete_message", {"message_id": msg.id})
            self.judge(kind, me.id, w.may_delete(me.id, msg), ok, code, what)
            if ok:
                w.deleted.add(msg.id)
        else:
            emoji = self.rng.choice(EMOJI)
            ok, code, _ = await self.call(me, "react", {"message_id": msg.id, "emoji": emoji})
            allowed = w.may_react(me.id, msg) and msg.id not in w.deleted
            self.judge(kind, me.id, allowed, ok, code, what)

    async def foreign_rest(self, me: Person) -> None:
        """History asked on the other platform's host, with the own cookie or the own token
        under that platform's cookie name: no one is signed in there."""
        other = OTHER[me.platform]
        cookie = me.cookie if self.rng.random() < 0.5 else f"{COOKIE[other]}={me.token}"
        cid = self.rng.choice([c for c in self.channels if self.w.rooms[c].platform == other])
        res = await self.api.http[other].get(
            f"/api/channels/{cid}/messages", headers={"Cookie": cookie}
        )
        if res.status_code >= 500:
            self.tally.server_errors.append(f"foreign_rest: {res.status_code} {res.text[:200]}")
        code = None if res.status_code == 200 else res.json()["error"]["code"]
        self.judge("foreign_rest", me.id, False, res.status_code == 200, code, f"host of {other}")

    async def foreign_socket(self, me: Person) -> None:
        """A socket opened on the other platform's host: with the own cookie as it is, or the
        own token under the other platform's cookie name. Both must be refused."""
        other = OTHER[me.platform]
        cookie = me.cookie if self.rng.random() < 0.5 else f"{COOKIE[other]}={me.token}"
        sock = socketio.AsyncClient(reconnection=False)
        base = self.urls[other]
        try:
            await sock.connect(
                base,
                headers={"Cookie": cookie, "Origin": base},
                transports=["websocket"],
                wait_timeout=10,
            )
        except socketio.exceptions.ConnectionError:
            self.judge("foreign_socket", me.id, False, False, "refused", f"host of {other}")
            return
        self.judge("foreign_socket", me.id, False, True, None, f"host of {other}")
        await sock.disconnect()


KINDS = {
    "join_guild": 2,
    "foreign_rest": 1,
    "join_channel": 16,
    "history": 10,
    "send_message": 16,
    "join_dm": 6,
    "dm_history": 5,
    "send_dm": 6,
    "edit": 9,
    "delete": 5,
    "react": 9,
    "mark_read": 5,
    "typing": 4,
    "foreign_socket": 1,
}


# --- setting the scene --------------------------------------------------------------------------


async def connect_all(world: World, urls: dict[str, str], ports: list[int], judge: Judge) -> None:
    """A socket per person on each web process: removals must reach the other process too."""

    async def one(p: Person) -> None:
        for port in ports:
            sock = socketio.AsyncClient(reconnection=False)
            judge.listen(p, sock)
            host = "localhost" if p.platform == "weokto" else "stam.localhost"
            await sock.connect(
                f"http://{host}:{port}",
                headers={"Cookie": p.cookie, "Origin": urls[p.platform]},
                transports=["websocket"],
                wait_timeout=15,
            )
            p.socks.append(sock)

    gate = asyncio.Semaphore(16)

    async def gated(p: Person) -> None:
        async with gate:
            await one(p)

    await asyncio.gather(*(gated(p) for p in world.people.values()))


async def enter_rooms(world: World, initial: dict[tuple[int, int], tuple[str, bool]]) -> None:
    """Every socket joins every channel it could read before the transitions."""

    async def one(user: int, guild: int, role: str, paid: bool) -> None:
        for room in world.clubs[guild].rooms:
            if room.paid and not paid and role not in MODERATOR:
                continue
            for sock in world.people[user].socks:
                body = {"channel_id": room.id}
                ack = await sock.call("join_channel", body, timeout=CALL_TIMEOUT)
                assert ack["ok"], (user, room, ack)

    await asyncio.gather(*(one(u, g, r, p) for (u, g), (r, p) in initial.items()))


async def seed_messages(
    world: World, rng: random.Random, initial: dict[tuple[int, int], Any]
) -> None:
    """Two messages per channel by people who could post there before the transitions (so
    some authors lose access to their own messages), and a few direct messages."""
    n = 0
    for room in world.rooms.values():
        posters = [
            u
            for (u, g), (role, paid) in initial.items()
            if g == room.guild
            and (paid or role in MODERATOR or not room.paid)
            and (room.kind != "announcement" or role in MODERATOR)
        ]
        for author in rng.sample(posters, min(2, len(posters))):
            n += 1
            sock = world.people[author].sock
            body = {"channel_id": room.id, "content": f"seed {n}", "client_msg_id": f"seed-{n}"}
            ack = await sock.call("send_message", body, timeout=CALL_TIMEOUT)
            assert ack["ok"], ack
            m = ack["data"]["message"]
            world.messages[m["id"]] = Msg(m["id"], author, room.id, None)
    for platform in ("weokto", "stam"):
        ids = [p.id for p in world.people.values() if p.platform == platform]
        for _ in range(len(ids) // 2):
            a, b = rng.sample(ids, 2)
            n += 1
            sock = world.people[a].sock
            body = {"user_id": b, "content": f"seed dm {n}", "client_msg_id": f"seed-{n}"}
            ack = await sock.call("send_dm", body, timeout=CALL_TIMEOUT)
            assert ack["ok"], ack
            m = ack["data"]["message"]
            world.conversations.add(pair(a, b))
            world.conv_pairs[m["conversation_id"]] = pair(a, b)
            world.messages[m["id"]] = Msg(m["id"], a, None, pair(a, b))


async def transitions(world: World, api: Api, later: list[tuple[str, int, int]]) -> None:
    """Access taken away (or limited) through the product's own endpoints, by the owner."""
    owners = {g: world.people[u] for (u, g), s in world.standing.items() if s == "owner"}
    for standing, user, guild in later:
        slug, owner, who = world.clubs[guild].slug, owners[guild], world.people[user]
        base = f"/api/guilds/{slug}/members/{user}"
        if standing == "kicked":
            res = await api.post(owner, f"{base}/kick", {"reason": "fuzz"})
        elif standing == "banned":
            res = await api.post(owner, f"{base}/ban", {"reason": "fuzz"})
        elif standing == "left":
            res = await api.post(who, f"/api/guilds/{slug}/leave")
        elif standing == "revoked":
            res = await api.post(owner, f"{base}/paid-access", {"granted": False})
        else:
            res = await api.post(owner, f"{base}/timeout", {"seconds": 3600, "reason": "fuzz"})
        assert res.status_code == 200, (standing, res.text)


async def add_blocks(world: World, api: Api, rng: random.Random) -> None:
    for platform in ("weokto", "stam"):
        ids = [p.id for p in world.people.values() if p.platform == platform]
        for _ in range(3):
            a, b = rng.sample(ids, 2)
            res = await api.post(world.people[a], f"/api/users/{b}/block")
            assert res.status_code == 200, res.text
            world.blocks.add((a, b))


# --- the case -----------------------------------------------------------------------------------


@pytest.mark.timeout(scaled(240, 1800))
async def test_random_authorization_attempts(
    live_server, second_server, stripe_emulator, db, figures
):
    print(f"\nAUTHZ_SEED={SEED} ({ATTEMPTS} attempts)")
    rng = random.Random(SEED)
    world, tally = World(), Tally()
    urls = {"weokto": live_server.weokto_url, "stam": live_server.stam_url}
    api = Api(urls)
    await api.start()
    judge = Judge(world, tally)
    started = time.monotonic()
    try:
        plan = await build(rng, world)
        shop = await open_shop(world, api, rng, stripe_emulator)
        club = shop["club"]
        buyers = [await person(rng, "weokto", 800 + n) for n in range(REFUNDED + 1)]
        world.people.update({b.id: b for b in buyers})
        purchases = {b.id: await buy(api, shop, b) for b in buyers}
        for b in buyers:
            world.standing[(b.id, club.id)] = "buyer"
            plan["initial"][(b.id, club.id)] = ("member", True)
        await connect_all(world, urls, [live_server.port, second_server.port], judge)
        await enter_rooms(world, plan["initial"])
        await seed_messages(world, rng, plan["initial"])
        await add_blocks(world, api, rng)
        await transitions(world, api, plan["later"])
        for b in buyers[:REFUNDED]:
            await refund(api, shop, b, purchases[b.id])
            world.standing[(b.id, club.id)] = "refunded"
        await asyncio.sleep(1.0)  # the transitions' own pushes land before the judging starts
        setup_s = time.monotonic() - started
        standings = Counter(world.standing.values())  # as the attempts start
        judge.live = True
        fuzz = Fuzz(world, api, rng, tally, urls)
        kinds = rng.choices(list(KINDS), weights=list(KINDS.values()), k=ATTEMPTS)
        for kind in kinds:
            await fuzz.one(kind)
        await asyncio.sleep(1.5)  # pushes of the last attempts
        judge.live = False
        await judge.settle()
    finally:
        for p in world.people.values():
            for sock in p.socks:
                if sock.connected:
                    await sock.disconnect()
        await api.close()
    figures.record(
        seed=SEED,
        replay=f"AUTHZ_SEED={SEED}",
        attempts=sum(tally.attempts.values()),
        by_kind=dict(tally.attempts),
        people=len(world.people),
        sockets=sum(len(p.socks) for p in world.people.values()),
        guilds=len(world.clubs),
        channels=len(world.rooms),
        standings=dict(standings),
        joins=len(world.joined),
        allowed=tally.allowed,
        refused=tally.refused,
        throttled=tally.throttled,
        pushes_judged=tally.pushes,
        foreign_pushes=tally.foreign,
        unauthorized=len(tally.unauthorized),
        wrongful_refusals=len(tally.wrongful),
        server_errors=len(tally.server_errors),
        setup_s=round(setup_s, 1),
        total_s=round(time.monotonic() - started, 1),
        bound="0 unauthorized deliveries (acks, REST, pushes), 0 wrongful refusals, 0 5xx",
    )
    kinds_of_leak = Counter(
        re.sub(r"\d+", "N", line.split(":", 1)[0]) for line in tally.unauthorized
    )
    report = "\n".join(
        [
            *(f"{n} x {k}" for k, n in kinds_of_leak.most_common()),
            *tally.unauthorized[:15],
            *tally.wrongful[:15],
            *tally.server_errors[:5],
            *tally.unclassified[:5],
        ]
    )
    assert not tally.unclassified, f"seed {SEED}: pushes the oracle does not know:\n{report}"
    assert not tally.server_errors, f"seed {SEED}: server errors:\n{report}"
    assert not tally.unauthorized, (
        f"seed {SEED}: {len(tally.unauthorized)} unauthorized deliveries:\n{report}"
    )
    assert not tally.wrongful, f"seed {SEED}: {len(tally.wrongful)} wrongful refusals:\n{report}"
    assert tally.allowed > ATTEMPTS // 10 and tally.refused > ATTEMPTS // 10  # both sides tried
