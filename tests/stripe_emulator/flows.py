"""Small Stripe flows the emulator tests share (catalog, checkout, paying a session)."""

from __future__ import annotations

from typing import Any

import stripe

from tests.stripe_emulator.conftest import Emulator


def monthly_price(
    client: stripe.StripeClient, amount: int = 2000, interval: str = "month", count: int = 1
) -> stripe.Price:
    product = client.v1.products.create(
        {"name": "STAM Studio", "metadata": {"community": "stam-studio"}}
    )
    return client.v1.prices.create(
        {
            "product": product.id,
            "currency": "eur",
            "unit_amount": amount,
            "recurring": {"interval": interval, "interval_count": count},
        }
    )


def one_time_price(client: stripe.StripeClient, amount: int = 5000) -> stripe.Price:
    product = client.v1.products.create({"name": "Course"})
    return client.v1.prices.create(
        {"product": product.id, "currency": "eur", "unit_amount": amount}
    )


def subscription_session(
    client: stripe.StripeClient, price: stripe.Price, **extra: Any
) -> stripe.checkout.Session:
    params: dict[str, Any] = {
        "mode": "subscription",
        "line_items": [{"price": price.id, "quantity": 1}],
        "success_url": "http://app.test/billing/success?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://app.test/billing/cancel",
        "client_reference_id": "user-7",
        "customer_email": "buyer@example.com",
        "metadata": {"user_id": "7"},
    }
    params.update(extra)
    return client.v1.checkout.sessions.create(params)


def pay(emu: Emulator, session_id: str, card: str = "4242424242424242") -> dict[str, Any]:
    response = emu.post(
        f"/_emulator/checkout/{session_id}/pay", {"card": card, "email": "buyer@example.com"}
    )
    assert response.status_code == 200, response.text
    return response.json()


def subscribe(
    client: stripe.StripeClient, emu: Emulator, card: str = "4242424242424242", **extra: Any
) -> stripe.Subscription:
    session = subscription_session(client, monthly_price(client), **extra)
    paid = pay(emu, session.id, card)
    return client.v1.subscriptions.retrieve(paid["subscription"])
