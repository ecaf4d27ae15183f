"""Sessions: per-platform cookies and accounts, logout and suspension revoke at once, roles."""

from __future__ import annotations

from datetime import UTC

import pytest

from db.auth.tables import Session, User

pytestmark = pytest.mark.usefixtures("celery_worker", "mailcatcher")


async def test_same_email_is_two_accounts_and_cookies_do_not_cross(make_client, login):
    weokto, stam = await make_client("weokto"), await make_client("stam")
    w = (await login(weokto, "twin@example.com"))["user"]
    s = (await login(stam, "twin@example.com"))["user"]
    assert w["id"] != s["id"] and (w["platform"], s["platform"]) == ("weokto", "stam")
    # Replay WEOKTO's session token on the STAM host under STAM's cookie name, and as is.
    token = weokto.cookies["weokto_session"]
    intruder = await make_client("stam")
    intruder.cookies.set("stam_session", token, domain="stam.localhost")
    assert (await intruder.get("/api/auth/me")).status_code == 401
    intruder.cookies.set("weokto_session", token, domain="stam.localhost")
    assert (await intruder.get("/api/auth/me")).status_code == 401
    assert (await stam.get("/api/auth/me")).json()["platform"] == "stam"


async def test_tampered_token_is_rejected(make_client, login):
    client = await make_client()
    await login(client, "tamper@example.com")
    token = client.cookies["weokto_session"]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    other = await make_client()
    other.cookies.set("weokto_session", forged, domain="localhost")
    assert (await other.get("/api/auth/me")).status_code == 401


async def test_logout_revokes_the_session_at_once(make_client, login, captured_events):
    client = await make_client()
    user = (await login(client, "bye@example.com"))["user"]
    token = client.cookies["weokto_session"]
    res = await client.post("/api/auth/logout")
    assert res.status_code == 200 and "Max-Age=0" in res.headers["set-cookie"]
    replay = await make_client()
    replay.cookies.set("weokto_session", token, domain="localhost")
    assert (await replay.get("/api/auth/me")).status_code == 401
    assert await Session.count().where(Session.revoked_at.is_not_null()) == 1
    # To that session's sockets only (the user's other browsers stay signed in).
    session_id = captured_events[-1]["payload"]["session_id"]
    assert user["id"] and captured_events[-1]["room"] == f"session:{session_id}"
    assert captured_events[-1]["payload"]["type"] == "session.revoked"
    assert captured_events[-1]["payload"]["reason"] == "logout"


async def test_admin_suspension_revokes_every_session(make_client, login, captured_events):
    admin_client, user_a, user_b = await make_client(), await make_client(), await make_client()
    await User.insert(User(platform="weokto", email="boss@example.com", role="admin"))
    await login(admin_client, "boss@example.com")
    target = (await login(user_a, "bad@example.com"))["user"]
    await login(user_b, "bad@example.com")  # a second device
    res = await admin_client.post(f"/api/admin/users/{target['id']}/suspend")
    assert res.status_code == 200 and res.json()["status"] == "suspended"
    assert (await user_a.get("/api/auth/me")).status_code == 401
    assert (await user_b.get("/api/auth/me")).status_code == 401
    revoked = [e for e in captured_events if e["event"] == "session.revoked"]
    assert revoked[-1]["room"] == f"user:{target['id']}"
    assert revoked[-1]["payload"] == {
        "type": "session.revoked",
        "reason": "suspended",
        "session_id": None,
    }
    # A suspended user cannot sign in again.
    again = await make_client()
    await again.post("/api/auth/magic-link/send", json={"email": "bad@example.com"})
    from tests.fixtures import code_of, wait_mails

    newest = (await wait_mails("bad@example.com", 3))[0]
    res = await again.post(
        "/api/auth/magic-link/verify-otp", json={"email": "bad@example.com", "otp": code_of(newest)}
    )
    assert res.status_code == 403 and res.json()["error"]["code"] == "account_suspended"


async def test_role_guards(make_client, login):
    member = await make_client()
    await login(member, "plain@example.com")
    victim = await User.insert(User(platform="weokto", email="v@example.com")).returning(User.id)
    res = await member.post(f"/api/admin/users/{victim[0]['id']}/suspend")
    assert res.status_code == 403 and res.json()["error"]["code"] == "role_required"
    anonymous = await make_client()
    assert (await anonymous.post(f"/api/admin/users/{victim[0]['id']}/suspend")).status_code == 401


async def test_admin_cannot_reach_users_of_the_other_platform(make_client, login):
    await User.insert(User(platform="weokto", email="root@example.com", role="owner"))
    owner = await make_client()
    await login(owner, "root@example.com")
    stam_user = await User.insert(User(platform="stam", email="s@example.com")).returning(User.id)
    res = await owner.post(f"/api/admin/users/{stam_user[0]['id']}/suspend")
    assert res.status_code == 404


async def test_guard_check_roles_for_socket_events():
    from datetime import datetime

    from server.domains.auth.guards import check_roles
    from server.domains.auth.schemas import CurrentUser, Role
    from server.errors import Forbidden, Unauthorized

    user = CurrentUser(
        id=1,
        platform="weokto",
        email="a@b.co",
        display_name="a",
        role=Role.AFFILIATE,
        status="active",
        primary_guild_id=None,
        created_at=datetime.now(UTC),
        session_id="x",
    )
    assert check_roles(user, frozenset({Role.AFFILIATE})) is user
    with pytest.raises(Forbidden):
        check_roles(user, frozenset({Role.ADMIN}))
    with pytest.raises(Unauthorized):
        check_roles(None, frozenset())
