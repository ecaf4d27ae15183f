"""Billing mails (receipts, dunning, renewal reminders): each once, whatever the retries, a
refusal of the mail server or a worker stopped at any point."""

from __future__ import annotations

import asyncio
import os
import smtplib
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import asyncpg
import httpx
import msgspec
import pytest

from core.settings import get_settings
from db.billing.tables import (
    BillingCustomer,
    Invoice,
    MailNotice,
    MailRefusal,
    Plan,
    Product,
    Purchase,
)
from server.domains.billing import notices
from server.domains.billing.notices import do_send_reminders
from server.domains.mail import smtp
from tests.billing.test_lifecycle import _advance
from tests.billing.test_purchase_flow import _purchase_of, _until, shop  # noqa: F401
from tests.billing.test_refunds import _bought
from tests.factories import make_user
from tests.fixtures import wait_mails
from tests.mail.refusing_smtp import refusing_smtp


async def test_failed_renewal_sends_one_dunning_mail(shop, make_client, login):
    _, me, purchase = await _bought(shop, make_client, login, "dunned@example.com")
    customer = await BillingCustomer.select().where(BillingCustomer.user == me["id"]).first()
    async with httpx.AsyncClient(base_url=shop["emulator"]) as emu:
        await emu.post(
            f"/_emulator/customers/{customer['stripe_customer_id']}/card",
            json={"card": "4000000000000341"},
        )
    await _advance(shop["emulator"], 31)

    async def dunning_mails():
        mails = await wait_mails("dunned@example.com", 1)
        found = [m for m in mails if "n'a pas abouti" in m["subject"]]
        return found or None

    dunning = await _until(dunning_mails)
    assert "19,00\xa0€" in dunning[0]["text"]  # French: the platform's default language
    await asyncio.sleep(1.5)  # repeats of the failure event (and their tasks) are done by now
    assert len(await dunning_mails()) == 1


async def test_renewal_reminders_go_once_per_period(shop, make_client, login):
    _, me, purchase = await _bought(shop, make_client, login, "remind@example.com")
    now = datetime.now(UTC)
    await Purchase.update({Purchase.current_period_end: now + timedelta(days=6, hours=12)}).where(
        Purchase.id == purchase["id"]
    )
    assert await do_send_reminders(now) == 1
    assert await do_send_reminders(now) == 0  # the hourly job runs again: nothing new
    assert await do_send_reminders(now + timedelta(days=5, hours=13)) == 1  # the 1-day one
    mails = [
        m for m in await wait_mails("remind@example.com", 3) if "se renouvelle" in m["subject"]
    ]
    assert sorted(m["subject"] for m in mails) == [
        "VIP se renouvelle dans 1 jour",
        "VIP se renouvelle dans 7 jours",
    ]
    assert await MailNotice.count().where(MailNotice.user == me["id"]) >= 2


# --- the claim: exactly once, whatever stops the worker -------------------------------------


class Killed(BaseException):
    """The worker stopping mid-send: no `except Exception` of the code under test sees it."""


async def _paid_invoice(email: str = "buyer@example.com") -> dict:
    user = await make_user(email=email)
    product = (await Product.insert(Product(platform="weokto", name="VIP")).returning(Product.id))[
        0
    ]
    plan = (
        await Plan.insert(
            Plan(product=product["id"], name="Monthly", price_cents=1900, interval="MONTHLY")
        ).returning(Plan.id)
    )[0]
    purchase = (
        await Purchase.insert(
            Purchase(
                user=user["id"],
                product=product["id"],
                plan=plan["id"],
                status="ACTIVE",
                stripe_subscription_id=f"sub_{user['id']}",
                current_period_end=datetime.now(UTC) + timedelta(days=6, hours=12),
            )
        ).returning(Purchase.id)
    )[0]
    invoice = (
        await Invoice.insert(
            Invoice(
                stripe_invoice_id=f"in_{user['id']}",
                purchase=purchase["id"],
                amount_paid_cents=1900,
                status="paid",
                paid_at=datetime.now(UTC),
            )
        ).returning(Invoice.id)
    )[0]
    return {"user": user, "purchase": purchase["id"], "invoice": invoice["id"]}


async def _send(kind: str, shop_row: dict) -> bool:
    if kind == "receipt":
        return await notices.do_send_receipt(shop_row["invoice"])
    if kind == "dunning":
        return await notices.do_send_dunning(
            f"in_{shop_row['user']['id']}", f"sub_{shop_row['user']['id']}"
        )
    return bool(await notices.do_send_reminders())


class Outbox:
    """Stands for the SMTP server: each call may first run `before` (a peek, a failure)."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []
        self.failures: list[BaseException] = []
        self.peek = None

    def __call__(self, msg: EmailMessage, timeout: float = 10.0) -> None:
        if self.peek is not None:
            self.peek()
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(msg)


@pytest.fixture
def outbox(monkeypatch):
    box = Outbox()
    monkeypatch.setattr(notices, "send", box)
    return box


async def _committed() -> tuple[int, object]:
    """What another connection sees: committed notices, and the invoice's receipt_sent_at."""
    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        count = await conn.fetchval("SELECT count(*) FROM mail_notices")
        sent_at = await conn.fetchval("SELECT receipt_sent_at FROM invoices LIMIT 1")
        return count, sent_at
    finally:
        await conn.close()


@pytest.mark.parametrize("kind", ["receipt", "dunning", "reminder"])
async def test_nothing_is_committed_before_the_mail_server_accepts(outbox, kind):
    row = await _paid_invoice()
    seen: list[tuple[int, object]] = []
    outbox.peek = lambda: seen.append(asyncio.run(_committed()))  # in send's thread
    assert await _send(kind, row) is True
    assert seen == [(0, None)]  # a worker killed at this point leaves the mail to its retry
    count, sent_at = await _committed()
    assert count == 1 and (sent_at is not None) == (kind == "receipt")


@pytest.mark.parametrize("kind", ["receipt", "dunning", "reminder"])
async def test_a_worker_stopped_while_sending_leaves_the_mail_to_the_redelivered_task(outbox, kind):
    row = await _paid_invoice()
    outbox.failures.append(Killed())
    with pytest.raises(Killed):
        await _send(kind, row)
    assert await _committed() == (0, None)
    assert await _send(kind, row) is True  # the redelivered task (acks_late)
    assert await _send(kind, row) is False  # and once only
    assert len(outbox.sent) == 1


async def test_a_temporary_failure_is_retried_with_the_same_message_id(outbox):
    row = await _paid_invoice()
    ids: list[str] = []
    outbox.peek = lambda: ids.append("")
    outbox.failures.append(smtplib.SMTPServerDisconnected("connection dropped"))
    with pytest.raises(smtplib.SMTPServerDisconnected):
        await notices.do_send_receipt(row["invoice"])
    assert await _committed() == (0, None)
    assert await notices.do_send_receipt(row["invoice"]) is True
    first = outbox.sent[0]["Message-ID"]
    # Had the worker died between acceptance and commit, the copy sent again is the same mail.
    await MailNotice.delete(force=True)
    await Invoice.update({Invoice.receipt_sent_at: None}, force=True)
    assert await notices.do_send_receipt(row["invoice"]) is True
    assert outbox.sent[1]["Message-ID"] == first


async def test_concurrent_tasks_send_one_receipt_and_one_dunning(outbox):
    row = await _paid_invoice()
    outbox.peek = lambda: time.sleep(0.3)  # the first sender holds its claim open meanwhile
    results = await asyncio.gather(
        *(_send(k, row) for k in ("receipt", "receipt", "dunning", "dunning"))
    )
    assert sorted(results) == [False, False, True, True]
    assert len(outbox.sent) == 2
    kinds = sorted(r["kind"] for r in await MailNotice.select(MailNotice.kind))
    assert kinds == ["dunning", "receipt"]


@pytest.fixture
def refusing(monkeypatch):
    with refusing_smtp() as server:
        settings = msgspec.structs.replace(get_settings(), smtp_url=server.url)
        monkeypatch.setattr(smtp, "get_settings", lambda: settings)
        yield server


@pytest.mark.parametrize("kind", ["receipt", "dunning", "reminder"])
async def test_an_address_refused_for_good_is_recorded_once_and_not_retried(refusing, kind):
    row = await _paid_invoice("gone@example.com")
    assert await _send(kind, row) is False
    assert await _send(kind, row) is False  # a later run (or a retry) does not try again
    assert refusing.attempts == ["gone@example.com"]
    notice = await MailNotice.select(MailNotice.status, MailNotice.detail).first()
    assert notice["status"] == "refused" and notice["detail"].startswith("550")
    refusals = await MailRefusal.select(MailRefusal.address, MailRefusal.code)
    assert refusals == [{"address": "gone@example.com", "code": 550}]


async def test_a_temporary_refusal_keeps_the_mail_for_the_retry(refusing):
    row = await _paid_invoice("later@example.com")
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        await notices.do_send_dunning(f"in_{row['user']['id']}", f"sub_{row['user']['id']}")
    assert await MailNotice.count() == 0 and await MailRefusal.count() == 0


async def test_one_reminder_failing_for_now_does_not_hold_the_others(refusing):
    await _paid_invoice("later@example.com")
    await _paid_invoice("fine@example.com")
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        await notices.do_send_reminders()
    assert [m["To"] for m in refusing.accepted] == ["fine@example.com"]
