"""Emulated time: advancing it replays, in order, every renewal, retry and expiry that falls due."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from devtools.stripe_emulator import billing
from devtools.stripe_emulator.store import Store

Obj = dict[str, Any]
LIVE = ("active", "trialing", "past_due")


def advance(store: Store, seconds: int) -> int:
    """Move the clock forward; returns how many due items were processed."""
    target = store.now() + seconds
    processed = 0
    for _ in range(10_000):  # bounded: a year of daily renewals for many subscriptions fits
        due = _next_due(store, target)
        if due is None:
            break
        moment, action = due
        store.run_at(moment)
        try:
            action()
        finally:
            store.run_at(None)
        processed += 1
    store.state.clock_offset += seconds
    store.touch()
    return processed


def _next_due(store: Store, target: int) -> tuple[int, Callable[[], None]] | None:
    candidates: list[tuple[int, Callable[[], None]]] = []
    for sub in store.all("subscription"):
        if sub["status"] in LIVE and billing.period_end(sub) <= target:
            candidates.append((billing.period_end(sub), lambda sub=sub: renew(store, sub)))
    for inv in store.all("invoice"):
        retry_at = inv.get("next_payment_attempt")
        if inv["status"] == "open" and retry_at and retry_at <= target:
            candidates.append((int(retry_at), lambda inv=inv: retry(store, inv)))
    for session in store.all("checkout.session"):
        if session["status"] == "open" and session["expires_at"] <= target:
            candidates.append(
                (int(session["expires_at"]), lambda session=session: expire(store, session))
            )
    return min(candidates, key=lambda item: item[0]) if candidates else None


def renew(store: Store, sub: Obj) -> None:
    """End of a period: cancel if asked to, else invoice the next period and try the card."""
    if sub["cancel_at_period_end"] or (sub["cancel_at"] and sub["cancel_at"] <= store.now()):
        billing.end_subscription(store, sub, reason="cancellation_requested")
        return
    start = billing.period_end(sub)
    rec = sub["items"]["data"][0]["price"]["recurring"]
    end = billing.add_interval(start, rec["interval"], int(rec["interval_count"]))
    previous = {
        "items": _period_snapshot(sub),
        "latest_invoice": sub["latest_invoice"],
        "status": sub["status"],
    }
    billing.set_period(sub, start, end)
    cust = store.get("customer", sub["customer"])
    inv = billing.open_invoice(store, cust, sub, billing.item_lines(sub), "subscription_cycle")
    sub["latest_invoice"] = inv["id"]
    card = billing.customer_card(store, cust["id"])
    paid = card is not None and billing.collect_invoice(
        store, inv, card, sub["default_payment_method"], off_session=True
    )
    if (
        card is None
    ):  # nothing on file: Stripe leaves the invoice open and the subscription past_due
        inv.update(
            attempted=True, attempt_count=1, next_payment_attempt=store.now() + billing.RETRY_EVERY
        )
        store.emit("invoice.payment_failed", inv)
    sub["status"] = "active" if paid else "past_due"
    store.put(sub)
    store.emit("customer.subscription.updated", sub, previous)


def retry(store: Store, inv: Obj) -> None:
    """A dunning retry of an open subscription invoice with the customer's current card."""
    sub_id = ((inv.get("parent") or {}).get("subscription_details") or {}).get("subscription")
    sub = store.find(sub_id) if sub_id else None
    card = billing.customer_card(store, inv["customer"])
    pm_id = sub["default_payment_method"] if sub else store.private(inv["customer"]).get("pm", "")
    if card is None:
        inv["next_payment_attempt"] = None  # nothing to retry with; stop rather than loop
    paid = card is not None and billing.collect_invoice(store, inv, card, pm_id, off_session=True)
    if sub is None or sub["status"] == "canceled":
        return
    if paid and sub["status"] == "past_due":
        sub["status"] = "active"
        store.put(sub)
        store.emit("customer.subscription.updated", sub, {"status": "past_due"})
    elif not paid and inv["next_payment_attempt"] is None:
        billing.end_subscription(store, sub, reason="payment_failed")


def expire(store: Store, session: Obj) -> None:
    session["status"] = "expired"
    store.put(session)
    store.emit("checkout.session.expired", session)


def _period_snapshot(sub: Obj) -> Obj:
    data = [
        {
            "id": item["id"],
            "current_period_start": item["current_period_start"],
            "current_period_end": item["current_period_end"],
        }
        for item in sub["items"]["data"]
    ]
    return {"data": data}
