"""SMTP delivery: a permanent refusal (5xx) is final and recorded, a temporary one is retried."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest

from core.settings import get_settings
from db.billing.tables import MailRefusal
from server.domains.mail import render, smtp
from server.domains.mail.render import build_message, stable_message_id
from server.domains.platforms.queries import Platform, branding
from tests.mail.refusing_smtp import Refusing, refusing_smtp


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Refusing]:
    with refusing_smtp() as handler:
        settings = msgspec.structs.replace(get_settings(), smtp_url=handler.url)
        monkeypatch.setattr(smtp, "get_settings", lambda: settings)
        yield handler


def _mail(to: str) -> Any:
    brand = branding(Platform.WEOKTO)
    return build_message("login", to, brand, locale="en", code="123456", link="x", minutes=15)


@pytest.mark.parametrize(("to", "code"), [("gone@example.com", 550), ("spam@example.com", 554)])
def test_a_permanent_refusal_is_mail_refused(server, to, code):
    with pytest.raises(smtp.MailRefused) as refused:
        smtp.send(_mail(to))
    assert (refused.value.address, refused.value.code) == (to, code)
    assert refused.value.reason and not server.accepted
    # Not something the mail tasks retry.
    from tasks.mail import RETRY

    assert not isinstance(refused.value, RETRY["autoretry_for"])


def test_a_temporary_refusal_stays_retryable(server):
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        smtp.send(_mail("later@example.com"))
    assert not isinstance(refused.value, smtp.MailRefused)
    from tasks.mail import RETRY

    assert isinstance(refused.value, RETRY["autoretry_for"])


def test_an_accepted_mail_goes_through(server):
    smtp.send(_mail("fine@example.com"))
    assert [m["To"] for m in server.accepted] == ["fine@example.com"]


def test_a_mail_server_that_is_down_stays_retryable(monkeypatch):
    from devtools.procs import free_port

    settings = msgspec.structs.replace(get_settings(), smtp_url=f"smtp://127.0.0.1:{free_port()}")
    monkeypatch.setattr(smtp, "get_settings", lambda: settings)
    from tasks.mail import RETRY

    with pytest.raises(RETRY["autoretry_for"]):
        smtp.send(_mail("fine@example.com"))


def test_a_message_id_is_stable_per_mail_and_distinct_between_mails():
    brand = branding(Platform.WEOKTO)
    ids = [
        build_message(
            "login",
            "a@example.com",
            brand,
            locale="en",
            code="1",
            link="x",
            minutes=1,
            message_id=stable_message_id(kind, key),
        )["Message-ID"]
        for kind, key in (("receipt", "1"), ("receipt", "1"), ("receipt", "2"), ("dunning", "1"))
    ]
    assert ids[0] == ids[1] and len(set(ids)) == 3
    assert ids[0].startswith("<receipt.") and ids[0].endswith(f"@{render._mail_domain()}>")
    fresh = {_mail("a@example.com")["Message-ID"] for _ in range(2)}
    assert len(fresh) == 2  # a mail that may go more than once gets a new one each time


def _eager(task: Any, monkeypatch: pytest.MonkeyPatch, refusal_to: str) -> tuple[Any, list[str]]:
    """Run the login task in this thread; its action is replaced by a real SMTP send."""
    import tasks.mail

    calls: list[str] = []

    def fake_run(coro: Any) -> Any:
        name = coro.cr_code.co_name
        coro.close()  # the action itself needs the worker's loop: its SMTP step is done here
        calls.append(name)
        if name == "do_send_login_email":
            smtp.send(_mail(refusal_to))
            return True
        return None

    monkeypatch.setattr(tasks.mail, "run", fake_run)
    return task.apply(args=("weokto", refusal_to)), calls


def test_the_login_task_does_not_retry_a_refused_address(server, monkeypatch):
    from tasks.mail import send_login_email

    result, calls = _eager(send_login_email, monkeypatch, "gone@example.com")
    assert result.get() is False
    assert calls == ["do_send_login_email", "do_record_refusal"]  # once, then recorded
    assert server.attempts == ["gone@example.com"]


def test_the_login_task_retries_a_temporary_refusal_with_backoff(server, monkeypatch):
    from tasks.mail import RETRY, send_login_email

    result, calls = _eager(send_login_email, monkeypatch, "later@example.com")
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        result.get()
    assert calls == ["do_send_login_email"] * (RETRY["max_retries"] + 1)
    assert RETRY["retry_backoff"] and RETRY["retry_backoff_max"] <= 300


async def test_a_refusal_is_recorded_for_ops():
    from server.domains.mail.actions import do_record_refusal

    await do_record_refusal("login", "task-1", smtp.MailRefused("gone@example.com", 550, "no"))
    rows = await MailRefusal.select(
        MailRefusal.kind, MailRefusal.address, MailRefusal.code, MailRefusal.reason
    )
    assert rows == [{"kind": "login", "address": "gone@example.com", "code": 550, "reason": "no"}]
