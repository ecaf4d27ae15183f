"""Checkout sessions: creation from API params, and completion by a test card (page or shortcut)."""

from __future__ import annotations

import copy
from typing import Any

from devtools.stripe_emulator import billing, objects
from devtools.stripe_emulator.cards import decline_error, lookup
from devtools.stripe_emulator.catalog import build_price
from devtools.stripe_emulator.errors import invalid
from devtools.stripe_emulator.forms import (
    as_bool,
    as_dict,
    as_int,
    as_list,
    merge_metadata,
    required,
)
from devtools.stripe_emulator.ids import session_id
from devtools.stripe_emulator.store import Store

Obj = dict[str, Any]


def create_session(store: Store, params: Obj, public_url: str) -> Obj:
    mode = required(params, "mode")
    if mode not in ("payment", "subscription"):
        raise invalid(
            "Invalid mode: must be one of payment or subscription (setup is not emulated)",
            param="mode",
        )
    lines = _line_items(store, params, mode)
    customer_id = params.get("customer") or None
    if customer_id:
        store.get("customer", customer_id, param="customer")
    sub_data = as_dict(params, "subscription_data")
    trial_days = as_int(sub_data, "trial_period_days", minimum=1)
    if trial_days is not None and mode != "subscription":
        raise invalid(
            "subscription_data is only allowed in subscription mode", param="subscription_data"
        )
    total = sum(item["amount_total"] for item in lines)
    sid = session_id()
    invoice_creation = as_bool(as_dict(params, "invoice_creation"), "enabled", False)
    invoice_data = as_dict(as_dict(params, "invoice_creation"), "invoice_data")
    session = objects.checkout_session(
        store.now(),
        sid,
        f"{public_url}/checkout/{sid}",
        {
            "mode": mode,
            "success_url": params.get("success_url"),
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": params.get("client_reference_id") or None,
            "customer": customer_id,
            "customer_email": params.get("customer_email") or None,
            "metadata": merge_metadata({}, params.get("metadata")),
            "currency": lines[0]["currency"],
            "amount_subtotal": total,
            "amount_total": total,
            "customer_creation": (
                None
                if customer_id or mode == "subscription"
                else params.get("customer_creation", "if_required")
            ),
            "invoice_creation": {"enabled": bool(invoice_creation), "invoice_data": None}
            if mode == "payment"
            else None,
            "locale": params.get("locale") or None,
            "payment_method_types": ["card"],
            "allow_promotion_codes": as_bool(params, "allow_promotion_codes"),
            "billing_address_collection": params.get("billing_address_collection") or None,
        },
    )
    store.put(session)
    store.private(sid).update(
        line_items=lines,
        subscription_data={
            "trial_period_days": trial_days,
            "metadata": merge_metadata({}, sub_data.get("metadata")),
        },
        payment_intent_data={
            "metadata": merge_metadata({}, as_dict(params, "payment_intent_data").get("metadata")),
            "description": as_dict(params, "payment_intent_data").get("description"),
        },
        invoice_metadata=merge_metadata({}, invoice_data.get("metadata")),
    )
    return session


def _line_items(store: Store, params: Obj, mode: str) -> list[Obj]:
    raw = as_list(params, "line_items")
    if not raw:
        raise invalid(
            "Missing required param: line_items.", param="line_items", code="parameter_missing"
        )
    items = []
    for index, entry in enumerate(raw):
        param = f"line_items[{index}]"
        if not isinstance(entry, dict):
            raise invalid("Invalid object", param=param)
        price = _line_price(store, entry, param)
        quantity = as_int(entry, "quantity", 1, minimum=1) or 1
        if mode == "subscription" and not price["recurring"] and index == 0:
            raise invalid(
                "You must provide at least one recurring price in `subscription` mode when using prices.",
                param=f"{param}[price]",
            )
        if mode == "payment" and price["recurring"]:
            raise invalid(
                "You specified `payment` mode but passed a recurring price. Either switch to `subscription` "
                "mode or use only one-time prices.",
                param=f"{param}[price]",
            )
        product = store.find(price["product"]) or {}
        items.append(
            objects.checkout_line_item(price, quantity, product.get("name") or price["product"])
        )
    if len({item["currency"] for item in items}) > 1:
        raise invalid("All line items must use the same currency.", param="line_items")
    return items


def _line_price(store: Store, entry: Obj, param: str) -> Obj:
    if entry.get("price"):
        price = store.get("price", entry["price"], param=f"{param}[price]")
        if not price["active"]:
            raise invalid(f"The price `{price['id']}` is not active.", param=f"{param}[price]")
        return price
    data = entry.get("price_data")
    if not isinstance(data, dict):
        raise invalid(
            "You must specify either `price` or `price_data`.",
            param=param,
            code="parameter_missing",
        )
    # Inline prices exist only inside the session in Stripe too; ours gets stored but is inactive.
    price = build_price(store, data, f"{param}[price_data]")
    price["active"] = False
    return store.put(price)


def complete_session(
    store: Store, session: Obj, card_number: str, email: str | None, name: str | None
) -> Obj:
    """Pay an open session with a test card; raises a card_error (session stays open) on decline."""
    if session["status"] != "open":
        raise invalid(
            f"This Checkout Session is no longer active (status: {session['status']}).",
            code="checkout_session_inactive" if session["status"] == "expired" else None,
        )
    card = lookup(card_number)
    error = decline_error(card, off_session=False)
    if error is not None:
        raise error
    private = store.private(session["id"])
    cust = _session_customer(store, session, email, name)
    pm = objects.payment_method(store.now(), card, cust and cust["id"], email, name)
    store.put(pm)
    store.private(pm["id"])["card"] = card.number
    if cust is not None:
        store.private(cust["id"]).update(card=card.number, pm=pm["id"])
    if session["mode"] == "subscription":
        amount_paid = _start_subscription(store, session, cust, card, pm["id"], private)
    else:
        amount_paid = _take_payment(store, session, cust, card, pm["id"], private)
    details = {
        "address": dict(objects.NO_ADDRESS),
        "email": (cust and cust["email"]) or email,
        "name": name,
        "phone": None,
        "tax_exempt": "none",
        "tax_ids": [],
        "business_name": None,
        "individual_name": None,
    }
    session.update(
        status="complete",
        customer=cust and cust["id"],
        customer_details=details,
        payment_status="paid" if amount_paid else "no_payment_required",
    )
    store.put(session)
    store.emit("checkout.session.completed", session)
    return session


def _session_customer(
    store: Store, session: Obj, email: str | None, name: str | None
) -> Obj | None:
    if session["customer"]:
        return store.get("customer", session["customer"])
    if session["mode"] == "payment" and session["customer_creation"] != "always":
        return None  # Stripe's "guest customer": only customer_details on the session
    cust = store.put(
        objects.customer(
            store.now(), email=session["customer_email"] or email, name=name, metadata={}
        )
    )
    store.emit("customer.created", cust)
    return cust


def _start_subscription(
    store: Store, session: Obj, cust: Obj, card: Any, pm_id: str, private: Obj
) -> int:
    now = store.now()
    sub_data = private["subscription_data"]
    prices = [
        (copy.deepcopy(item["price"]), int(item["quantity"])) for item in private["line_items"]
    ]
    trial_days = sub_data.get("trial_period_days")
    rec = prices[0][0]["recurring"]
    trial_end = now + int(trial_days) * 86400 if trial_days else None
    end = trial_end or billing.add_interval(now, rec["interval"], int(rec["interval_count"]))
    sub = objects.subscription(
        now,
        customer_id=cust["id"],
        pm_id=pm_id,
        items=prices,
        start=now,
        end=end,
        trial_end=trial_end,
        metadata=dict(sub_data.get("metadata") or {}),
    )
    lines = billing.item_lines(sub)
    if trial_end:  # Stripe bills a trial with a zero-amount invoice for the same lines
        lines = [
            (dict(price, unit_amount=0, unit_amount_decimal="0"), qty, start, stop)
            for price, qty, start, stop in lines
        ]
    inv = billing.open_invoice(store, cust, sub, lines, "subscription_create")
    sub["latest_invoice"] = inv["id"]
    store.put(sub)
    store.emit("customer.subscription.created", sub)
    billing.collect_invoice(store, inv, card, pm_id, off_session=False)
    session.update(subscription=sub["id"], invoice=None)
    return int(inv["amount_paid"])


def _take_payment(
    store: Store, session: Obj, cust: Obj | None, card: Any, pm_id: str, private: Obj
) -> int:
    intent = private["payment_intent_data"]
    if session["invoice_creation"] and session["invoice_creation"]["enabled"] and cust is not None:
        now = store.now()
        lines = [(item["price"], int(item["quantity"]), now, now) for item in private["line_items"]]
        # Stripe gives the invoice invoice_creation.invoice_data.metadata, not the session's.
        inv = billing.open_invoice(
            store, cust, None, lines, "manual", metadata=dict(private["invoice_metadata"])
        )
        billing.collect_invoice(store, inv, card, pm_id, off_session=False)
        session["invoice"] = inv["id"]
        session["payment_intent"] = inv["payments"]["data"][0]["payment"]["payment_intent"]
        return int(inv["amount_paid"])
    pi, _charge, _paid = billing.attempt_charge(
        store,
        cust=cust,
        amount=session["amount_total"],
        currency=session["currency"],
        card=card,
        pm_id=pm_id,
        off_session=False,
        metadata=dict(intent["metadata"]),
        description=intent.get("description"),
    )
    session["payment_intent"] = pi["id"]
    return int(pi["amount_received"])
