"""Every order of a purchase's events, each delivered twice, ends in the same state."""

from __future__ import annotations

import itertools
import json

import httpx

from db.billing.tables import Invoice, Purchase, StripeEvent
from db.guilds.tables import GuildMember
from server.domains.billing.actions import webhooks
from server.integrations.stripe import client
from tests.billing.test_lifecycle import _state
from tests.billing.test_purchase_flow import _buy, _purchase_of, shop  # noqa: F401

# The events a purchase sends that change our state (the others are recorded and ignored).
CORE = ("checkout.session.completed", "customer.subscription.created", "invoice.paid")


async def test_all_orders_of_the_purchase_events_converge(shop, make_client, login, stack):
    async with httpx.AsyncClient(base_url=shop["emulator"]) as emu:
        # Keep the real deliveries away: this test delivers the events itself, in every order.
        await emu.post("/_emulator/webhook", json={"url": "http://127.0.0.1:9/webhooks/stripe"})
    try:
        buyer = await make_client()
        me = (await login(buyer, "orders@example.com"))["user"]
        await _buy(shop, buyer)
        listed = await client().v1.events.list_async(params={"limit": 100})
        events = {e.type: e.to_dict() for e in listed.data if e.type in CORE}
        assert set(events) == set(CORE)
        finals = set()
        for order in itertools.permutations(CORE):
            await _forget(me["id"])
            for event_type in order + order:  # and each one twice
                await _deliver(events[event_type])
            purchase = await _purchase_of(me["id"])
            finals.add(
                (
                    purchase["status"],
                    purchase["current_period_end"],
                    purchase["stripe_checkout_session_id"] is not None,
                    await _state(me["id"], shop["guild"]["id"]),
                    await Purchase.count(),
                    await Invoice.count(),
                )
            )
        assert len(finals) == 1, finals
        (final,) = finals
        assert final[0] == "ACTIVE" and final[2] and final[3] == ("ACTIVE", True)
        assert final[4:] == (1, 1)
    finally:
        async with httpx.AsyncClient(base_url=shop["emulator"]) as emu:
            await emu.post(
                "/_emulator/webhook", json={"url": f"http://127.0.0.1:{stack.port}/webhooks/stripe"}
            )


async def _forget(user_id: int) -> None:
    await StripeEvent.delete(force=True)
    await Invoice.delete(force=True)
    await Purchase.delete().where(Purchase.user == user_id)
    await GuildMember.delete().where(GuildMember.user == user_id)


async def _deliver(event: dict) -> None:
    payload = json.dumps(event, default=str).encode()
    if await webhooks.do_record_event(webhooks.stripe.Event.construct_from(event, None), payload):
        await webhooks.do_process_event(event["id"])


ONE_TIME = ("checkout.session.completed", "invoice.paid")


async def test_both_orders_of_a_one_time_purchase_converge(shop, make_client, login, stack):
    from tests.billing.test_receipts import _one_time_button
    from tests.billing.test_refunds import _owner

    lifetime = await _one_time_button(await _owner(make_client, login), shop)
    async with httpx.AsyncClient(base_url=shop["emulator"]) as emu:
        await emu.post("/_emulator/webhook", json={"url": "http://127.0.0.1:9/webhooks/stripe"})
    try:
        buyer = await make_client()
        me = (await login(buyer, "once-orders@example.com"))["user"]
        await _buy(lifetime, buyer)
        listed = await client().v1.events.list_async(params={"limit": 100})
        events = {e.type: e.to_dict() for e in listed.data if e.type in ONE_TIME}
        finals = set()
        for order in itertools.permutations(ONE_TIME):
            await _forget(me["id"])
            for event_type in order + order:
                await _deliver(events[event_type])
            purchase = await _purchase_of(me["id"])
            invoice = await Invoice.select().where(Invoice.purchase == purchase["id"]).first()
            finals.add(
                (
                    purchase["status"],
                    purchase["stripe_subscription_id"],
                    invoice and (invoice["status"], invoice["amount_paid_cents"]),
                    await _state(me["id"], shop["guild"]["id"]),
                    await Invoice.count(),
                )
            )
        assert finals == {("ACTIVE", None, ("paid", 14900), ("ACTIVE", True), 1)}
    finally:
        async with httpx.AsyncClient(base_url=shop["emulator"]) as emu:
            await emu.post(
                "/_emulator/webhook", json={"url": f"http://127.0.0.1:{stack.port}/webhooks/stripe"}
            )
