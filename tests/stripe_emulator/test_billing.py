"""Refunds, disputes, subscription updates and clock-driven renewals."""

from __future__ import annotations

import pytest
import stripe

from tests.stripe_emulator.conftest import Emulator, Receiver
from tests.stripe_emulator.flows import (
    monthly_price,
    one_time_price,
    pay,
    subscribe,
    subscription_session,
)


def _paid_charge(client: stripe.StripeClient, emu: Emulator) -> stripe.Charge:
    session = client.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "line_items": [{"price": one_time_price(client, 1000).id, "quantity": 1}],
            "customer_creation": "always",
        }
    )
    intent = client.v1.payment_intents.retrieve(pay(emu, session.id)["payment_intent"])
    return client.v1.charges.retrieve(intent.latest_charge)


def test_partial_then_full_refund(
    client: stripe.StripeClient, emu: Emulator, receiver: Receiver
) -> None:
    charge = _paid_charge(client, emu)
    partial = client.v1.refunds.create(
        {"charge": charge.id, "amount": 300, "reason": "requested_by_customer"}
    )
    assert (
        isinstance(partial, stripe.Refund)
        and partial.id.startswith("re_")
        and partial.amount == 300
    )
    charge = client.v1.charges.retrieve(charge.id)
    assert charge.amount_refunded == 300 and charge.refunded is False
    rest = client.v1.refunds.create({"payment_intent": charge.payment_intent})
    assert rest.amount == 700
    charge = client.v1.charges.retrieve(charge.id)
    assert (
        charge.amount_refunded == 1000 and charge.refunded is True and len(charge.refunds.data) == 2
    )
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.refunds.create({"charge": charge.id, "amount": 1})
    assert err.value.code == "charge_already_refunded"
    refunded = receiver.wait_for_type("charge.refunded", 2)
    assert [e["data"]["object"]["amount_refunded"] for e in refunded] == [300, 1000]
    assert refunded[0]["data"]["previous_attributes"] == {"amount_refunded": 0, "refunded": False}


def test_refund_larger_than_charge_is_rejected(client: stripe.StripeClient, emu: Emulator) -> None:
    charge = _paid_charge(client, emu)
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.refunds.create({"charge": charge.id, "amount": 5000})
    assert err.value.param == "amount"


def test_dispute_open_and_close(
    client: stripe.StripeClient, emu: Emulator, receiver: Receiver
) -> None:
    charge = _paid_charge(client, emu)
    opened = emu.post(f"/_emulator/charges/{charge.id}/dispute", {"reason": "fraudulent"}).json()
    assert opened["id"].startswith("dp_") and opened["status"] == "needs_response"
    dispute = client.v1.disputes.retrieve(opened["id"])
    assert (
        isinstance(dispute, stripe.Dispute)
        and dispute.charge == charge.id
        and dispute.amount == 1000
    )
    assert client.v1.charges.retrieve(charge.id).disputed is True
    closed = emu.post(f"/_emulator/disputes/{dispute.id}/close", {"status": "lost"}).json()
    assert closed["status"] == "lost"
    assert emu.post(f"/_emulator/disputes/{dispute.id}/close", {"status": "won"}).status_code == 400
    created = receiver.wait_for_type("charge.dispute.created")[0]
    closed_event = receiver.wait_for_type("charge.dispute.closed")[0]
    assert created["data"]["object"]["id"] == closed_event["data"]["object"]["id"] == dispute.id
    assert closed_event["data"]["object"]["status"] == "lost"


def test_renewal_with_good_card_pays_a_new_invoice(
    client: stripe.StripeClient, emu: Emulator, receiver: Receiver
) -> None:
    sub = subscribe(client, emu)
    first_end = sub["items"].data[0].current_period_end
    emu.advance(31)
    renewed = client.v1.subscriptions.retrieve(sub.id, {"expand": ["latest_invoice"]})
    assert renewed.status == "active" and renewed["items"].data[0].current_period_start == first_end
    assert renewed.latest_invoice.id != sub.latest_invoice
    assert (
        renewed.latest_invoice.billing_reason == "subscription_cycle"
        and renewed.latest_invoice.status == "paid"
    )
    invoices = client.v1.invoices.list({"subscription": sub.id})
    assert len(invoices.data) == 2
    paid = receiver.wait_for_type("invoice.paid", 2)
    assert paid[1]["data"]["object"]["billing_reason"] == "subscription_cycle"
    assert paid[1]["created"] >= first_end  # stamped with emulated time


def test_renewal_with_failing_card_goes_past_due(
    client: stripe.StripeClient, emu: Emulator, receiver: Receiver
) -> None:
    sub = subscribe(client, emu, card="4000000000000341")  # attaches, then fails off-session
    emu.advance(31)
    renewed = client.v1.subscriptions.retrieve(sub.id, {"expand": ["latest_invoice"]})
    assert renewed.status == "past_due" and renewed.latest_invoice.status == "open"
    failed = receiver.wait_for_type("invoice.payment_failed")[0]["data"]["object"]
    assert failed["id"] == renewed.latest_invoice.id and failed["attempt_count"] == 1
    updated = receiver.wait_for_type("customer.subscription.updated")[-1]
    assert updated["data"]["object"]["status"] == "past_due"
    assert updated["data"]["previous_attributes"]["status"] == "active"

    # The customer fixes their card: the next dunning retry pays and the subscription recovers.
    emu.post(f"/_emulator/customers/{sub.customer}/card", {"card": "4242424242424242"})
    emu.advance(3)
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"
    assert client.v1.invoices.retrieve(renewed.latest_invoice.id).status == "paid"


def test_card_marked_failing_then_dunning_cancels(
    client: stripe.StripeClient, emu: Emulator, receiver: Receiver
) -> None:
    sub = subscribe(client, emu)
    emu.post(f"/_emulator/customers/{sub.customer}/card", {"card": "4000000000000002"})
    emu.advance(31 + 3 * 4)
    assert client.v1.subscriptions.retrieve(sub.id).status == "canceled"
    assert len(receiver.wait_for_type("invoice.payment_failed", 4)) == 4
    receiver.wait_for_type("customer.subscription.deleted")


def test_cancel_at_period_end_ends_at_period_end(
    client: stripe.StripeClient, emu: Emulator, receiver: Receiver
) -> None:
    sub = subscribe(client, emu)
    updated = client.v1.subscriptions.update(sub.id, {"cancel_at_period_end": True})
    assert updated.cancel_at_period_end is True and updated.status == "active"
    emu.advance(10)
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"
    emu.advance(25)
    ended = client.v1.subscriptions.retrieve(sub.id)
    assert ended.status == "canceled" and ended.ended_at
    assert len(client.v1.invoices.list({"subscription": sub.id}).data) == 1  # no renewal invoice
    deleted = receiver.wait_for_type("customer.subscription.deleted")[0]
    assert deleted["data"]["object"]["id"] == sub.id
    assert client.v1.subscriptions.list().data == []  # canceled ones are hidden by default
    assert [s.id for s in client.v1.subscriptions.list({"status": "all"}).data] == [sub.id]


def test_immediate_cancel(client: stripe.StripeClient, emu: Emulator, receiver: Receiver) -> None:
    sub = subscribe(client, emu)
    canceled = client.v1.subscriptions.cancel(sub.id)
    assert canceled.status == "canceled"
    receiver.wait_for_type("customer.subscription.deleted")


def test_quarterly_and_yearly_periods(client: stripe.StripeClient, emu: Emulator) -> None:
    quarterly = client.v1.subscriptions.retrieve(
        pay(emu, subscription_session(client, monthly_price(client, count=3)).id)["subscription"]
    )
    yearly = client.v1.subscriptions.retrieve(
        pay(emu, subscription_session(client, monthly_price(client, interval="year")).id)[
            "subscription"
        ]
    )
    q_item, y_item = quarterly["items"].data[0], yearly["items"].data[0]
    assert 89 * 86400 <= q_item.current_period_end - q_item.current_period_start <= 92 * 86400
    assert 365 * 86400 <= y_item.current_period_end - y_item.current_period_start <= 366 * 86400
    emu.advance(40)
    assert len(client.v1.invoices.list({"subscription": quarterly.id}).data) == 1


def test_events_list_filters(client: stripe.StripeClient, emu: Emulator) -> None:
    subscribe(client, emu)
    start = emu.advance(31)["now"]
    renewals = client.v1.events.list(
        {"type": "invoice.paid", "created": {"gte": start - 86400 * 2}}
    )
    assert len(renewals.data) == 1
    assert renewals.data[0].data.object.billing_reason == "subscription_cycle"
    all_invoice = client.v1.events.list({"type": "invoice.*", "limit": 100})
    assert {e.type for e in all_invoice.data} >= {
        "invoice.created",
        "invoice.paid",
        "invoice.finalized",
    }
