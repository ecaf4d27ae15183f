"""Mail tasks: issue a login code and deliver it over SMTP, at most once per task id."""
from __future__ import annotations

import smtplib
from urllib.parse import quote

from tasks.app import celery_app
from tasks.runner import run

DONE_TTL_S = 24 * 3600


async def _send_login(task_id: str, platform: str, email: str) -> bool:
    from server.domains.auth.actions import do_issue_login_token
    from server.domains.auth.security import LOGIN_TTL_S
    from server.domains.mail.render import build_message
    from server.domains.mail.smtp import send
    from server.domains.platforms.queries import Platform, branding
    from server.redis import get_redis

    done_key = f"mail:done:{task_id}"
    if await get_redis().exists(done_key):
        return False  # redelivered after a successful send: do not mail twice
    brand = branding(Platform(platform))
    issued = await do_issue_login_token(Platform(platform), email)
    link = f"{brand.base_url}/api/auth/magic-link/verify?token={quote(issued.token)}"
    msg = build_message("login", email, brand, code=issued.otp, link=link,
                        minutes=LOGIN_TTL_S // 60)
    send(msg)
    await get_redis().set(done_key, "1", ex=DONE_TTL_S)
    return True


@celery_app.task(name="tasks.mail.send_login_email", bind=True, acks_late=True,
                 autoretry_for=(smtplib.SMTPException, OSError), retry_backoff=2,
                 retry_backoff_max=300, max_retries=6)
def send_login_email(self, platform: str, email: str) -> bool:  # noqa: ANN001
    return run(_send_login(self.request.id, platform, email))
