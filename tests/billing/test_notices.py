"""Dunning and renewal reminders: each mail once, whatever the retries."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx

from db.billing.tables import BillingCustomer, MailNotice, Purchase
from server.domains.billing.notices import do_send_reminders
from tests.billing.test_lifecycle import _advance
from tests.billing.test_purchase_flow import _purchase_of, _until, shop  # noqa: F401
from tests.billing.test_refunds import _bought
from tests.fixtures import wait_mails


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
