"""Checkout completion: the API shortcut, the hosted page, declines and the signed webhooks it sends."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
import stripe

from tests.stripe_emulator.conftest import SECRET, Emulator, Receiver
from tests.stripe_emulator.flows import monthly_price, one_time_price, pay, subscription_session

SUBSCRIPTION_EVENTS = [
    "customer.created",
    "invoice.created",
    "invoice.finalized",
    "customer.subscription.created",
    "charge.succeeded",
    "payment_intent.succeeded",
    "invoice.paid",
    "invoice.payment_succeeded",
    "checkout.session.completed",
]


def test_pay_4242_completes_session_and_sends_verified_webhooks(
    client: stripe.StripeClient, emu: Emulator, receiver: Receiver
) -> None:
    session = subscription_session(client, monthly_price(client))
    pay(emu, session.id)
    receiver.wait_for_type("checkout.session.completed")
    emu.settle()

    with receiver.lock:
        deliveries = list(receiver.received)
    events = [
        stripe.Webhook.construct_event(d.body, d.headers["stripe-signature"], SECRET)
        for d in deliveries
    ]
    assert all(isinstance(event, stripe.Event) for event in events)
    catalog = ("product.", "price.")
    assert [
        event.type for event in events if not event.type.startswith(catalog)
    ] == SUBSCRIPTION_EVENTS
    assert all(
        e.livemode is False and e.api_version and e.id.startswith("evt_") and e.created
        for e in events
    )
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(
            deliveries[0].body, deliveries[0].headers["stripe-signature"], "whsec_wrong"
        )

    completed = events[-1].data.object
    assert (
        completed.id == session.id
        and completed.status == "complete"
        and completed.payment_status == "paid"
    )
    assert completed.client_reference_id == "user-7" and completed.metadata["user_id"] == "7"
    sub = client.v1.subscriptions.retrieve(completed.subscription, {"expand": ["latest_invoice"]})
    assert (
        sub.status == "active" and sub.customer == completed.customer and sub.id.startswith("sub_")
    )
    item = sub["items"].data[0]
    assert item.current_period_end > item.current_period_start
    invoice = sub.latest_invoice
    assert (
        isinstance(invoice, stripe.Invoice)
        and invoice.status == "paid"
        and invoice.amount_paid == 2000
    )
    assert invoice.parent.subscription_details.subscription == sub.id and invoice.id.startswith(
        "in_"
    )
    intent_id = invoice.payments.data[0].payment.payment_intent
    intent = client.v1.payment_intents.retrieve(intent_id)
    charge = client.v1.charges.retrieve(intent.latest_charge)
    assert intent.status == "succeeded" and charge.paid and charge.amount == 2000
    assert charge.payment_method_details.card.last4 == "4242"
    first = next(e for e in events if e.type == "customer.created")
    assert client.v1.events.retrieve(first.id).data.object.id == completed.customer


def test_payment_mode_with_metadata_on_the_intent(
    client: stripe.StripeClient, emu: Emulator
) -> None:
    price = one_time_price(client, 5000)
    session = client.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "line_items": [{"price": price.id, "quantity": 2}],
            "success_url": "http://app.test/ok",
            "payment_intent_data": {"metadata": {"order": "o-1"}},
        }
    )
    paid = pay(emu, session.id)
    assert paid["customer"] is None and paid["customer_details"]["email"] == "buyer@example.com"
    intent = client.v1.payment_intents.retrieve(paid["payment_intent"])
    assert (
        intent.amount == 10000 and intent.metadata["order"] == "o-1" and intent.id.startswith("pi_")
    )


def test_payment_mode_with_invoice_creation_makes_a_paid_invoice(
    client: stripe.StripeClient, emu: Emulator, receiver: Receiver
) -> None:
    customer = client.v1.customers.create({"email": "once@example.com"})
    session = client.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "customer": customer.id,
            "success_url": "http://app.test/ok",
            "line_items": [{"price": one_time_price(client, 4900).id, "quantity": 1}],
            "metadata": {"session_only": "yes"},
            "invoice_creation": {"enabled": True, "invoice_data": {"metadata": {"plan_id": "3"}}},
        }
    )
    paid = pay(emu, session.id)
    receiver.wait_for_type("checkout.session.completed")
    invoice = client.v1.invoices.retrieve(paid["invoice"], {"expand": ["payments"]})
    assert (invoice.status, invoice.amount_paid, invoice.customer) == ("paid", 4900, customer.id)
    assert invoice.parent is None and invoice.status_transitions.paid_at
    assert invoice.metadata.to_dict() == {"plan_id": "3"}  # invoice_data's, not the session's
    intent = invoice.payments.data[0].payment.payment_intent
    assert paid["payment_intent"] == intent
    found = client.v1.checkout.sessions.list({"payment_intent": intent})
    assert [s.id for s in found.data] == [session.id]
    assert "invoice.paid" in {e["type"] for e in receiver.events()}


def test_decline_is_a_card_error_and_session_stays_open(
    client: stripe.StripeClient, emu: Emulator
) -> None:
    session = subscription_session(client, monthly_price(client))
    response = emu.post(f"/_emulator/checkout/{session.id}/pay", {"card": "4000 0000 0000 0002"})
    assert response.status_code == 402
    error = response.json()["error"]
    assert error["type"] == "card_error" and error["code"] == "card_declined"
    assert error["decline_code"] == "generic_decline"
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"
    assert client.v1.subscriptions.list().data == []


def test_hosted_checkout_page_decline_then_success_redirect(
    client: stripe.StripeClient, emu: Emulator
) -> None:
    session = subscription_session(client, monthly_price(client))
    with httpx.Client(follow_redirects=False) as browser:
        page = browser.get(session.url)
        assert page.status_code == 200 and 'name="card"' in page.text
        assert 'href="http://app.test/billing/cancel"' in page.text
        action = re.search(r'action="([^"]+)"', page.text).group(1)
        form = {"email": "web@example.com", "card": "4000 0000 0000 0002", "name": "Web Buyer"}
        declined = browser.post(f"{emu.base}{action}", data=form)
        assert declined.status_code == 402 and "Your card was declined." in declined.text
        assert 'name="card"' in declined.text  # still on the form
        done = browser.post(f"{emu.base}{action}", data={**form, "card": "4242 4242 4242 4242"})
    assert done.status_code == 303
    target = urlparse(done.headers["location"])
    assert target.netloc == "app.test" and parse_qs(target.query)["session_id"] == [session.id]
    completed = client.v1.checkout.sessions.retrieve(session.id)
    assert completed.status == "complete"
    assert client.v1.customers.retrieve(completed.customer).email == "buyer@example.com"


def test_trial_subscription_is_trialing_with_a_zero_invoice(
    client: stripe.StripeClient, emu: Emulator
) -> None:
    session = subscription_session(
        client, monthly_price(client), subscription_data={"trial_period_days": 14}
    )
    paid = pay(emu, session.id)
    assert paid["payment_status"] == "no_payment_required"
    sub = client.v1.subscriptions.retrieve(paid["subscription"], {"expand": ["latest_invoice"]})
    assert sub.status == "trialing" and sub.trial_end - sub.trial_start == 14 * 86400
    assert sub.latest_invoice.amount_paid == 0 and sub.latest_invoice.status == "paid"
    emu.advance(15)
    sub = client.v1.subscriptions.retrieve(sub.id, {"expand": ["latest_invoice"]})
    assert sub.status == "active" and sub.latest_invoice.amount_paid == 2000
