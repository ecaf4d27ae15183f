"""Auth state changes: the only code that writes users, login tokens and sessions."""

from __future__ import annotations

import unicodedata
import uuid
from datetime import UTC, datetime, timedelta
from typing import Literal, NoReturn

import email_validator
import msgspec
from email_validator import EmailNotValidError, validate_email

from db.auth.tables import LoginToken, Session, User
from db.uow import atomic
from realtime import emitter, revoke
from server.domains.auth import events
from server.domains.auth.queries import UserRow, get_user, user_by_email
from server.domains.auth.schemas import CurrentUser, Role
from server.domains.auth.security import (
    LOGIN_TTL_S,
    MAX_OTP_ATTEMPTS,
    SESSION_TTL_S,
    encode_session,
    hash_link_token,
    hash_otp,
    new_link_token,
    new_otp,
)
from server.domains.platforms.queries import Platform
from server.errors import ClientError, Forbidden, NotFound
from server.jobs import enqueue
from server.ratelimit import Limit, hit

# Codes mailed to one address are limited per (address, network), so a stranger's requests
# cannot lock the owner out; a looser ceiling per address, whatever the network, still stops
# a botnet from flooding one inbox; and one network cannot spray many addresses.
SEND_PER_EMAIL_IP = Limit("login-send-email-ip", max_hits=5, window_s=3600)
SEND_PER_EMAIL = Limit("login-send-email", max_hits=20, window_s=3600)
SEND_PER_IP = Limit("login-send-ip", max_hits=30, window_s=3600)
VERIFY_PER_IP = Limit("login-verify-ip", max_hits=60, window_s=900)
INVALID_CODE = "That code is not valid. Check the latest email or ask for a new code."


class IssuedLogin(msgspec.Struct, frozen=True):
    token: str
    otp: str
    expires_at: datetime


class LoginOutcome(msgspec.Struct, frozen=True):
    user: CurrentUser
    session_token: str
    redirect: str


def _allow_dev_domains() -> None:
    """Dev and test accounts live under .local (devtools/seed.py), a special-use name that
    email-validator refuses: outside production it is taken off the library's list (the
    library's documented switch). Production keeps the full list."""
    from core.settings import get_settings

    if get_settings().is_dev and "local" in email_validator.SPECIAL_USE_DOMAIN_NAMES:
        email_validator.SPECIAL_USE_DOMAIN_NAMES.remove("local")


_allow_dev_domains()


def normalize_email(raw: str) -> str:
    """A deliverable-looking address, lower-cased, or a 400.

    email-validator checks the syntax strictly (no NUL or other control character, a valid
    domain name, length limits) without DNS lookups, which would make sign-in as slow and
    fragile as the resolver. ASCII local parts only: the mail path does not speak SMTPUTF8.
    """
    try:
        checked = validate_email(raw.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        raise ClientError(
            "Enter a valid email address", code="invalid_email", details={"field": "email"}
        ) from None
    return checked.normalized.lower()


async def check_send_login(platform: Platform, raw_email: str, ip: str) -> str:
    """Validate and rate-limit, then let a worker issue and mail the code.

    The answer never depends on whether the address has an account: the same work is
    queued either way and the account is created only on a successful verification.
    """
    email = normalize_email(raw_email)
    await hit(SEND_PER_IP, ip, "Too many sign-in requests from this network, try again later")
    await hit(
        SEND_PER_EMAIL_IP,
        f"{platform.value}:{email}:{ip}",
        "Too many codes were sent to this address, try again later",
    )
    await hit(
        SEND_PER_EMAIL,
        f"{platform.value}:{email}",
        "Too many codes were sent to this address, try again later",
    )
    await enqueue("tasks.mail.send_login_email", platform.value, email)
    return email


async def do_issue_login_token(platform: Platform, email: str) -> IssuedLogin:
    """Store hashes of a fresh link token and code; older pending codes stop working."""
    token, otp = new_link_token(), new_otp()
    expires = datetime.now(UTC) + timedelta(seconds=LOGIN_TTL_S)
    async with atomic():
        await LoginToken.update({LoginToken.dead: True}).where(
            (LoginToken.platform == platform.value)
            & (LoginToken.email == email)
            & LoginToken.used_at.is_null()
            & (LoginToken.dead == False)  # noqa: E712
        )
        await LoginToken.insert(
            LoginToken(
                platform=platform.value,
                email=email,
                token_hash=hash_link_token(token),
                otp_hash=hash_otp(platform.value, email, otp),
                expires_at=expires,
            )
        )
    return IssuedLogin(token=token, otp=otp, expires_at=expires)


async def check_verify_link(platform: Platform, token: str, ip: str, ua: str) -> LoginOutcome:
    await hit(VERIFY_PER_IP, ip, "Too many sign-in attempts, try again later")
    rows = await LoginToken.raw(
        "UPDATE login_tokens SET used_at = now() WHERE token_hash = {} AND platform = {} "
        "AND used_at IS NULL AND NOT dead AND expires_at > now() RETURNING email",
        hash_link_token(token),
        platform.value,
    )
    if not rows:
        raise ClientError("This sign-in link is invalid, used or expired", code="invalid_link")
    return await do_login(platform, rows[0]["email"], ip, ua)


async def check_verify_otp(
    platform: Platform, raw_email: str, otp: str, ip: str, ua: str
) -> LoginOutcome:
    email = normalize_email(raw_email)
    await hit(VERIFY_PER_IP, ip, "Too many sign-in attempts, try again later")
    code = otp.strip()
    pending = await LoginToken.raw(
        "SELECT id FROM login_tokens WHERE platform = {} AND email = {} AND used_at IS NULL "
        "AND NOT dead AND expires_at > now() ORDER BY id DESC LIMIT 1",
        platform.value,
        email,
    )
    if not pending:
        raise ClientError(INVALID_CODE, code="invalid_code", details={"attempts_left": 0})
    token_id = pending[0]["id"]
    # Compare inside the UPDATE so two concurrent guesses cannot both pass the attempt cap.
    used = await LoginToken.raw(
        "UPDATE login_tokens SET used_at = now() WHERE id = {} AND otp_hash = {} "
        "AND used_at IS NULL AND NOT dead AND attempts < {} RETURNING email",
        token_id,
        hash_otp(platform.value, email, code),
        MAX_OTP_ATTEMPTS,
    )
    if used:
        return await do_login(platform, email, ip, ua)
    await _count_wrong_code(token_id)


async def _count_wrong_code(token_id: int) -> NoReturn:
    rows = await LoginToken.raw(
        "UPDATE login_tokens SET attempts = attempts + 1, dead = (attempts + 1 >= {}) "
        "WHERE id = {} AND used_at IS NULL AND NOT dead RETURNING attempts",
        MAX_OTP_ATTEMPTS,
        token_id,
    )
    left = max(0, MAX_OTP_ATTEMPTS - rows[0]["attempts"]) if rows else 0
    message = INVALID_CODE if left else "Too many wrong codes: ask for a new code"
    raise ClientError(message, code="invalid_code", details={"attempts_left": left})


async def do_login(platform: Platform, email: str, ip: str, ua: str) -> LoginOutcome:
    """Create the account on first sign-in, then a 30-day session row."""
    now = datetime.now(UTC)
    async with atomic():
        await User.raw(
            "INSERT INTO users (platform, email, display_name, role, status, created_at) "
            "VALUES ({}, {}, {}, 'member', 'active', now()) "
            "ON CONFLICT (platform, email) DO NOTHING",
            platform.value,
            email,
            email.split("@", 1)[0][:80],
        )
        user = await user_by_email(platform, email)
        assert user is not None  # inserted just above, or already there
        if user.status != "active":
            raise Forbidden("This account is suspended", code="account_suspended")
        await User.update({User.last_login_at: now}).where(User.id == user.id)
        session_id = uuid.uuid4()
        await Session.insert(
            Session(
                id=session_id,
                user=user.id,
                platform=platform.value,
                expires_at=now + timedelta(seconds=SESSION_TTL_S),
                ip=ip[:64],
                user_agent=ua[:256],
            )
        )
    current = _current(user, str(session_id))
    return LoginOutcome(
        user=current,
        session_token=encode_session(str(session_id), platform.value),
        redirect=home_for(current),
    )


def _current(user: UserRow, session_id: str) -> CurrentUser:
    return CurrentUser(
        id=user.id,
        platform=user.platform,
        email=user.email,
        display_name=user.display_name,
        role=user.role,
        status=user.status,
        primary_guild_id=user.primary_guild_id,
        created_at=user.created_at,
        session_id=session_id,
        locale=user.locale,
    )


def home_for(user: CurrentUser) -> str:
    if user.platform == Platform.WEOKTO.value and user.primary_guild_id is None:
        return "/choose-guild"
    return "/home"


async def do_logout(user: CurrentUser) -> None:
    await do_revoke_session(user.id, user.session_id, "logout")


async def check_revoke_session(user: CurrentUser, session_id: str) -> None:
    """Sign one of one's own sessions out (another browser or device)."""
    try:
        wanted = uuid.UUID(session_id)
    except ValueError:
        raise NotFound("No such session", code="session_not_found") from None
    owned = await Session.exists().where((Session.id == wanted) & (Session.user == user.id))
    if not owned:
        raise NotFound("No such session", code="session_not_found")
    await do_revoke_session(user.id, str(wanted), "revoked")


async def do_revoke_session(
    user_id: int, session_id: str, reason: Literal["logout", "revoked"]
) -> None:
    """Revoke a session; once committed its sockets are told, then disconnected on every process
    (the other sessions of the user keep theirs)."""
    async with atomic():
        await Session.update({Session.revoked_at: datetime.now(UTC)}).where(
            (Session.id == uuid.UUID(session_id)) & Session.revoked_at.is_null()
        )
        emitter.queue_all(events.notify_revoked(user_id, reason, session_id))
        revoke.cut_session(session_id)  # after the event: it is sent before the disconnect


async def _same_platform_user(actor: CurrentUser, user_id: int) -> UserRow:
    target = await get_user(user_id)
    if target is None or target.platform != actor.platform:
        raise NotFound("No such user", code="user_not_found")
    return target


async def check_suspend_user(actor: CurrentUser, user_id: int) -> None:
    target = await _same_platform_user(actor, user_id)
    if target.id == actor.id:
        raise ClientError("You cannot suspend yourself", code="cannot_suspend_self")
    if target.role == Role.OWNER and actor.role != Role.OWNER:
        raise Forbidden("Only an owner can suspend an owner")
    await do_suspend_user(user_id)


async def do_suspend_user(user_id: int) -> None:
    """Suspend and revoke every session at once (the next request or socket event fails)."""
    async with atomic():
        await User.update({User.status: "suspended"}).where(User.id == user_id)
        revoked = (
            await Session.update({Session.revoked_at: datetime.now(UTC)})
            .where((Session.user == user_id) & Session.revoked_at.is_null())
            .returning(Session.id)
        )
        emitter.queue_all(events.notify_revoked(user_id, "suspended"))
        # After the event: every socket of the user is told, then disconnected.
        revoke.cut_user(user_id, [str(r["id"]) for r in revoked])


async def check_reinstate_user(actor: CurrentUser, user_id: int) -> None:
    await _same_platform_user(actor, user_id)
    await do_reinstate_user(user_id)


async def do_reinstate_user(user_id: int) -> None:
    async with atomic():
        await User.update({User.status: "active"}).where(User.id == user_id)


async def do_welcome(user_id: int, worker: str) -> bool:
    user = await get_user(user_id)
    if user is None or user.status != "active":
        return False
    welcome = events.WelcomeUser(
        id=user.id, display_name=user.display_name, email=user.email, role=user.role.value
    )
    async with atomic():
        emitter.queue_all(events.notify_welcome(welcome, user.platform, worker))
    return True


async def do_purge_expired_logins(older_than: timedelta = timedelta(days=1)) -> int:
    """Old login rows are useless after expiry; keep the table small."""
    cutoff = datetime.now(UTC) - older_than
    async with atomic():
        rows = (
            await LoginToken.delete().where(LoginToken.expires_at < cutoff).returning(LoginToken.id)
        )
    return len(rows)


MAX_DISPLAY_NAME = 80
# Direction controls reorder the text after them: "admin\u202egpj.exe" shows as "adminexe.jpg",
# so a name could pass for another member's or hide what follows it in a message list.
BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
)


def check_display_name(raw: str) -> str:
    """A name other members can read as typed: trimmed, 1-80 characters, no invisible controls."""
    name = raw.strip()
    field = {"field": "display_name"}
    if not name or len(name) > MAX_DISPLAY_NAME:
        raise ClientError(
            "A display name has 1 to 80 characters", code="invalid_display_name", details=field
        )
    if any(c in BIDI_CONTROLS or unicodedata.category(c) == "Cc" for c in name):
        raise ClientError(
            "A display name cannot contain invisible control characters",
            code="invalid_display_name",
            details=field,
        )
    return name


async def check_set_display_name(user: CurrentUser, raw: str) -> CurrentUser:
    name = check_display_name(raw)
    await do_set_display_name(user.id, name)
    return msgspec.structs.replace(user, display_name=name)


async def do_set_display_name(user_id: int, name: str) -> None:
    async with atomic():
        await User.update({User.display_name: name}).where(User.id == user_id)


async def check_set_locale(user: CurrentUser | None, raw: str) -> str:
    """Validate a language choice; a signed-in user's is saved for every device and email."""
    from server.i18n import SUPPORTED

    locale = raw.strip().lower()
    if locale not in SUPPORTED:
        raise ClientError(
            "This language is not available",
            code="unsupported_locale",
            details={"field": "locale", "supported": list(SUPPORTED)},
        )
    if user is not None:
        await do_set_locale(user.id, locale)
    return locale


async def do_set_locale(user_id: int, locale: str) -> None:
    async with atomic():
        await User.raw("UPDATE users SET locale = {} WHERE id = {}", locale, user_id)


LOGIN_DONE_TTL_S = 24 * 3600


async def do_send_login_email(task_id: str, platform: Platform, email: str) -> bool:
    """Issue a fresh code and mail it, at most once per task id: a task redelivered after a
    successful send finds its done key and stops. In the account's language when it exists,
    else the platform's (an unknown address has no account yet)."""
    from urllib.parse import quote

    from core.redis import get_redis
    from server.domains.mail.render import build_message, recipient_locale
    from server.domains.mail.smtp import send
    from server.domains.platforms.queries import branding

    done_key = f"mail:done:{task_id}"
    if await get_redis().exists(done_key):
        return False
    brand = branding(platform)
    issued = await do_issue_login_token(platform, email)
    rows = await User.raw(
        "SELECT locale FROM users WHERE platform = {} AND email = {}", platform.value, email
    )
    locale = recipient_locale(rows[0]["locale"] if rows else None, platform)
    link = f"{brand.base_url}/api/auth/magic-link/verify?token={quote(issued.token)}"
    msg = build_message(
        "login",
        email,
        brand,
        locale=locale,
        code=issued.otp,
        link=link,
        minutes=LOGIN_TTL_S // 60,
    )
    send(msg)
    await get_redis().set(done_key, "1", ex=LOGIN_DONE_TTL_S)
    return True
