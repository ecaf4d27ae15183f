"""Money movements shared by checkout, renewals and retries: charges, invoices, subscriptions."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from typing import Any

from devtools.stripe_emulator import objects
from devtools.stripe_emulator.cards import TestCard, decline_error, lookup
from devtools.stripe_emulator.store import Store

Obj = dict[str, Any]
RETRY_EVERY = 3 * 86400  # Stripe's smart retries spread ~4 attempts over weeks; fixed here
MAX_ATTEMPTS = 4  # then the subscription is canceled (Stripe's default dunning setting)


def add_interval(moment: int, interval: str, count: int) -> int:
    """`moment` plus `count` intervals, months clamped to the month's last day as Stripe does."""
    if interval == "day":
        return moment + count * 86400
    if interval == "week":
        return moment + count * 7 * 86400
    months = count * (12 if interval == "year" else 1)
    start = datetime.fromtimestamp(moment, UTC)
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return int(start.replace(year=year, month=month, day=day).timestamp())


def customer_card(store: Store, customer_id: str) -> TestCard | None:
    number = store.private(customer_id).get("card")
    return lookup(number) if number else None


def attempt_charge(
    store: Store,
    *,
    cust: Obj | None,
    amount: int,
    currency: str,
    card: TestCard,
    pm_id: str,
    off_session: bool,
    metadata: dict[str, str],
    description: str | None,
) -> tuple[Obj, Obj, bool]:
    """A payment intent and its charge, approved or declined by the test card; emits their events."""
    now = store.now()
    pi = objects.payment_intent(
        now,
        amount=amount,
        currency=currency,
        customer_id=cust and cust["id"],
        pm_id=pm_id,
        metadata=metadata,
        description=description,
    )
    error = decline_error(card, off_session=off_session)
    failure = error.body if error else None
    email = cust["email"] if cust else None
    name = cust["name"] if cust else None
    ch = store.put(objects.charge(now, pi=pi, card=card, email=email, name=name, failure=failure))
    pi["latest_charge"] = ch["id"]
    if failure is None:
        pi.update(status="succeeded", amount_received=amount)
    else:
        pi.update(
            status="requires_payment_method", last_payment_error={**failure, "charge": ch["id"]}
        )
    store.put(pi)
    if failure is None:
        store.emit("charge.succeeded", ch)
        store.emit("payment_intent.succeeded", pi)
    else:
        store.emit("charge.failed", ch)
        store.emit("payment_intent.payment_failed", pi)
    return pi, ch, failure is None


def open_invoice(
    store: Store,
    cust: Obj,
    sub: Obj | None,
    lines: list[tuple[Obj, int, int, int]],
    reason: str,
    metadata: dict[str, str] | None = None,
) -> Obj:
    sequence = int(cust.get("next_invoice_sequence") or 1)
    cust["next_invoice_sequence"] = sequence + 1
    number = f"{cust['invoice_prefix']}-{sequence:04d}"
    inv = store.put(
        objects.invoice(
            store.now(),
            cust=cust,
            sub=sub,
            lines=lines,
            reason=reason,
            number=number,
            metadata=metadata,
        )
    )
    store.emit("invoice.created", inv)
    store.emit("invoice.finalized", inv)
    return inv


def collect_invoice(
    store: Store, inv: Obj, card: TestCard, pm_id: str, *, off_session: bool
) -> bool:
    """Charge an open invoice's amount due; paid or payment_failed events either way."""
    now = store.now()
    cust = store.get("customer", inv["customer"])
    inv.update(attempted=True, attempt_count=int(inv["attempt_count"]) + 1)
    paid = True
    if inv["amount_due"] > 0:
        pi, _charge, paid = attempt_charge(
            store,
            cust=cust,
            amount=inv["amount_due"],
            currency=inv["currency"],
            card=card,
            pm_id=pm_id,
            off_session=off_session,
            metadata={},
            description="Subscription update" if inv["parent"] else None,
        )
        payments = inv["payments"]["data"]
        payments.append(objects.invoice_payment(now, inv, pi["id"], paid))
    if paid:
        inv.update(
            status="paid",
            amount_paid=inv["amount_due"],
            amount_remaining=0,
            next_payment_attempt=None,
        )
        inv["status_transitions"]["paid_at"] = now
        store.put(inv)
        store.emit("invoice.paid", inv)
        store.emit("invoice.payment_succeeded", inv)
    else:
        retry = now + RETRY_EVERY if inv["attempt_count"] < MAX_ATTEMPTS else None
        inv.update(next_payment_attempt=retry)
        store.put(inv)
        store.emit("invoice.payment_failed", inv)
    return paid


def item_lines(sub: Obj) -> list[tuple[Obj, int, int, int]]:
    return [
        (
            item["price"],
            int(item["quantity"]),
            item["current_period_start"],
            item["current_period_end"],
        )
        for item in sub["items"]["data"]
    ]


def period_end(sub: Obj) -> int:
    return int(sub["items"]["data"][0]["current_period_end"])


def set_period(sub: Obj, start: int, end: int) -> None:
    for item in sub["items"]["data"]:
        item.update(current_period_start=start, current_period_end=end)


def end_subscription(store: Store, sub: Obj, *, reason: str) -> None:
    now = store.now()
    previous = {"status": sub["status"], "ended_at": None}
    sub.update(status="canceled", ended_at=now, canceled_at=sub["canceled_at"] or now)
    sub["cancellation_details"] = {**(sub.get("cancellation_details") or {}), "reason": reason}
    store.put(sub)
    store.emit("customer.subscription.deleted", sub, previous)
