"""Missed webhooks: the reconciliation job finds the events in Stripe and applies them."""

from __future__ import annotations

import httpx

from db.billing.tables import Invoice, StripeEvent
from server.domains.billing.actions.reconcile import do_reconcile
from server.domains.billing.actions.webhooks import do_process_event
from tests.billing.test_lifecycle import _state
from tests.billing.test_purchase_flow import _buy, _purchase_of, shop  # noqa: F401


async def test_a_purchase_whose_webhooks_never_arrived_is_applied(
    shop,
    make_client,
    login,
    stack,
):
    async with httpx.AsyncClient(base_url=shop["emulator"]) as emu:
        # The endpoint is "down": deliveries go to a closed port and are given up.
        await emu.post("/_emulator/webhook", json={"url": "http://127.0.0.1:9/webhooks/stripe"})
    try:
        buyer = await make_client()
        me = (await login(buyer, "missed@example.com"))["user"]
        await _buy(shop, buyer)
        assert await _purchase_of(me["id"]) is None
        stored_before = await StripeEvent.count()  # the catalog's events arrived earlier
        result = await do_reconcile()
        assert len(result.missed) == result.seen - stored_before >= 5
        missed_types = {
            r["type"]
            for r in await StripeEvent.select(StripeEvent.type).where(
                StripeEvent.stripe_id.is_in(result.missed)
            )
        }
        assert {"checkout.session.completed", "invoice.paid"} <= missed_types
        for stripe_id in result.missed:
            await do_process_event(stripe_id)
        purchase = await _purchase_of(me["id"])
        assert purchase is not None and purchase["status"] == "ACTIVE"
        assert await _state(me["id"], shop["guild"]["id"]) == ("ACTIVE", True)
        again = await do_reconcile()
        assert again.missed == [] and again.seen == result.seen  # nothing twice
    finally:
        async with httpx.AsyncClient(base_url=shop["emulator"]) as emu:
            await emu.post(
                "/_emulator/webhook", json={"url": f"http://127.0.0.1:{stack.port}/webhooks/stripe"}
            )


async def test_the_nightly_task_hands_missed_events_to_the_worker(
    shop,
    make_client,
    login,
    stack,
):
    from tasks.billing import _reconcile
    from tests.billing.test_purchase_flow import _until

    async with httpx.AsyncClient(base_url=shop["emulator"]) as emu:
        await emu.post("/_emulator/webhook", json={"url": "http://127.0.0.1:9/webhooks/stripe"})
    try:
        buyer = await make_client()
        me = (await login(buyer, "nightly@example.com"))["user"]
        await _buy(shop, buyer)
        assert await _reconcile() >= 5
        purchase = await _until(lambda: _purchase_of(me["id"]))
        assert purchase["status"] == "ACTIVE"

        async def paid_invoice():
            return (
                await Invoice.select()
                .where((Invoice.purchase == purchase["id"]) & (Invoice.status == "paid"))
                .first()
            )

        await _until(paid_invoice)
        assert await _state(me["id"], shop["guild"]["id"]) == ("ACTIVE", True)
        assert await _reconcile() == 0  # all stored now: nothing handed over twice
    finally:
        async with httpx.AsyncClient(base_url=shop["emulator"]) as emu:
            await emu.post(
                "/_emulator/webhook", json={"url": f"http://127.0.0.1:{stack.port}/webhooks/stripe"}
            )
