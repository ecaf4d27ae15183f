"""Builders of Stripe-shaped objects from the fixture templates, with every example value reset."""

from __future__ import annotations

import copy
from typing import Any

from devtools.stripe_emulator.cards import TestCard
from devtools.stripe_emulator.fixtures import template
from devtools.stripe_emulator.ids import new_id

Obj = dict[str, Any]
NO_ADDRESS = {
    "city": None,
    "country": None,
    "line1": None,
    "line2": None,
    "postal_code": None,
    "state": None,
}


def empty_list(url: str) -> Obj:
    return {"object": "list", "data": [], "has_more": False, "url": url}


def customer(
    now: int,
    *,
    email: str | None,
    name: str | None,
    metadata: dict[str, str],
    description: str | None = None,
    phone: str | None = None,
) -> Obj:
    cid = new_id("cus_", 14)
    return template(
        "customer",
        id=cid,
        created=now,
        email=email,
        name=name,
        metadata=metadata,
        description=description,
        phone=phone,
        discount=None,
        currency=None,
        shipping=None,
        invoice_prefix=cid[4:12].upper(),
        next_invoice_sequence=1,
    )


def product(
    now: int, *, name: str, metadata: dict[str, str], description: str | None, active: bool
) -> Obj:
    return template(
        "product",
        id=new_id("prod_", 14),
        created=now,
        updated=now,
        name=name,
        metadata=metadata,
        description=description,
        active=active,
        default_price=None,
        package_dimensions=None,
        type="service",
    )


def price(
    now: int,
    *,
    product_id: str,
    currency: str,
    unit_amount: int,
    recurring: Obj | None,
    metadata: dict[str, str],
    nickname: str | None,
    lookup_key: str | None,
    active: bool,
) -> Obj:
    return template(
        "price",
        id=new_id("price_"),
        created=now,
        product=product_id,
        currency=currency,
        unit_amount=unit_amount,
        unit_amount_decimal=str(unit_amount),
        metadata=metadata,
        nickname=nickname,
        lookup_key=lookup_key,
        active=active,
        custom_unit_amount=None,
        transform_quantity=None,
        recurring=recurring,
        type="recurring" if recurring else "one_time",
    )


def recurring(interval: str, interval_count: int, trial_period_days: int | None = None) -> Obj:
    return {
        "interval": interval,
        "interval_count": interval_count,
        "meter": None,
        "usage_type": "licensed",
        "trial_period_days": trial_period_days,
    }


def checkout_line_item(price_obj: Obj, quantity: int, description: str) -> Obj:
    amount = int(price_obj["unit_amount"]) * quantity
    return template(
        "item",
        id=new_id("li_"),
        price=copy.deepcopy(price_obj),
        quantity=quantity,
        description=description,
        currency=price_obj["currency"],
        amount_subtotal=amount,
        amount_total=amount,
        amount_discount=0,
        amount_tax=0,
        metadata={},
        adjustable_quantity=None,
    )


def checkout_session(now: int, sid: str, url: str, fields: Obj) -> Obj:
    """A hosted checkout session, open; `fields` carries what the create call set."""
    return template(
        "checkout.session",
        id=sid,
        created=now,
        expires_at=now + 24 * 3600,
        url=url,
        after_expiration=None,
        automatic_tax={"enabled": False, "liability": None, "status": None, "provider": None},
        consent=None,
        consent_collection=None,
        currency_conversion=None,
        collected_information=None,
        custom_text={
            "after_submit": None,
            "shipping_address": None,
            "submit": None,
            "terms_of_service_acceptance": None,
        },
        customer_details=None,
        payment_intent=None,
        payment_method_configuration_details=None,
        payment_status="unpaid",
        permissions=None,
        shipping_address_collection=None,
        shipping_cost=None,
        total_details={"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        status="open",
        saved_payment_method_options=None,
        adaptive_pricing={"enabled": False},
        wallet_options=None,
        managed_payments={"enabled": False},
        ui_mode="hosted",
        **fields,
    )


def payment_method(
    now: int, card: TestCard, customer_id: str | None, email: str | None, name: str | None
) -> Obj:
    pm = template(
        "payment_method",
        id=new_id("pm_"),
        created=now,
        customer=customer_id,
        metadata={},
        billing_details={
            "address": dict(NO_ADDRESS),
            "email": email,
            "name": name,
            "phone": None,
            "tax_id": None,
        },
    )
    pm["card"].update(
        brand=card.brand,
        display_brand=card.brand,
        last4=card.last4,
        wallet=None,
        fingerprint=card.number[-8:] + "fp",
        networks={"available": [card.brand], "preferred": None},
    )
    return pm


def card_details(card: TestCard) -> Obj:
    details = template("charge")["payment_method_details"]
    details["card"].update(
        brand=card.brand,
        last4=card.last4,
        network=card.brand,
        wallet=None,
        fingerprint=card.number[-8:] + "fp",
    )
    return details


def payment_intent(
    now: int,
    *,
    amount: int,
    currency: str,
    customer_id: str | None,
    pm_id: str,
    metadata: dict[str, str],
    description: str | None,
) -> Obj:
    pid = new_id("pi_")
    return template(
        "payment_intent",
        id=pid,
        created=now,
        amount=amount,
        currency=currency,
        customer=customer_id,
        metadata=metadata,
        description=description,
        payment_method=pm_id,
        status="processing",
        client_secret=f"{pid}_secret_{new_id('', 24)}",
        amount_details={},
        amount_received=0,
        automatic_payment_methods=None,
        canceled_at=None,
        last_payment_error=None,
        next_action=None,
        processing=None,
        transfer_data=None,
        payment_method_configuration_details=None,
        managed_payments=None,
        shipping=None,
        latest_charge=None,
    )


def charge(
    now: int, *, pi: Obj, card: TestCard, email: str | None, name: str | None, failure: Obj | None
) -> Obj:
    cid = new_id("ch_")
    paid = failure is None
    declined_message = "The bank did not return any further details with this decline."
    outcome = {
        "advice_code": None,
        "network_advice_code": None,
        "network_decline_code": None,
        "network_status": "approved_by_network" if paid else "declined_by_network",
        "reason": None if paid else failure.get("decline_code"),
        "risk_level": "normal",
        "seller_message": "Payment complete." if paid else declined_message,
        "type": "authorized" if paid else "issuer_declined",
    }
    return template(
        "charge",
        id=cid,
        created=now,
        amount=pi["amount"],
        amount_captured=pi["amount"] if paid else 0,
        amount_refunded=0,
        captured=paid,
        paid=paid,
        status="succeeded" if paid else "failed",
        currency=pi["currency"],
        customer=pi["customer"],
        description=pi["description"],
        metadata=dict(pi["metadata"]),
        payment_intent=pi["id"],
        payment_method=pi["payment_method"],
        payment_method_details=card_details(card),
        receipt_email=email,
        receipt_url=None,
        balance_transaction=new_id("txn_") if paid else None,
        outcome=outcome,
        refunded=False,
        failure_code=None if paid else failure["code"],
        failure_message=None if paid else failure["message"],
        billing_details={
            "address": dict(NO_ADDRESS),
            "email": email,
            "name": name,
            "phone": None,
            "tax_id": None,
        },
        refunds=empty_list(f"/v1/charges/{cid}/refunds"),
        shipping=None,
        source=None,
        transfer_data=None,
    )


def subscription(
    now: int,
    *,
    customer_id: str,
    pm_id: str,
    items: list[tuple[Obj, int]],
    start: int,
    end: int,
    trial_end: int | None,
    metadata: dict[str, str],
) -> Obj:
    sid = new_id("sub_")
    data = [
        subscription_item(now, sid, price_obj, quantity, start, end)
        for price_obj, quantity in items
    ]
    return template(
        "subscription",
        id=sid,
        created=now,
        start_date=now,
        customer=customer_id,
        currency=items[0][0]["currency"],
        default_payment_method=pm_id,
        metadata=metadata,
        status="trialing" if trial_end else "active",
        items={
            "object": "list",
            "data": data,
            "has_more": False,
            "total_count": len(data),
            "url": f"/v1/subscription_items?subscription={sid}",
        },
        billing_cycle_anchor=end if trial_end else start,
        billing_cycle_anchor_config=None,
        cancel_at=None,
        canceled_at=None,
        ended_at=None,
        cancel_at_period_end=False,
        latest_invoice=None,
        next_pending_invoice_item_invoice=None,
        pause_collection=None,
        pending_invoice_item_interval=None,
        pending_update=None,
        transfer_data=None,
        trial_start=now if trial_end else None,
        trial_end=trial_end,
        billing_thresholds=None,
        billing_schedules=[],
        managed_payments={"enabled": False},
        automatic_tax={"enabled": False, "liability": None, "disabled_reason": None},
        invoice_settings={
            "account_tax_ids": None,
            "issuer": {"type": "self"},
            "custom_fields": None,
            "description": None,
            "footer": None,
        },
    )


def subscription_item(
    now: int, sub_id: str, price_obj: Obj, quantity: int, start: int, end: int
) -> Obj:
    rec = price_obj["recurring"] or {}
    plan = {
        "id": price_obj["id"],
        "object": "plan",
        "active": price_obj["active"],
        "amount": price_obj["unit_amount"],
        "amount_decimal": price_obj["unit_amount_decimal"],
        "billing_scheme": "per_unit",
        "created": price_obj["created"],
        "currency": price_obj["currency"],
        "interval": rec.get("interval"),
        "interval_count": rec.get("interval_count"),
        "livemode": False,
        "metadata": price_obj["metadata"],
        "meter": None,
        "nickname": price_obj["nickname"],
        "product": price_obj["product"],
        "tiers_mode": None,
        "transform_usage": None,
        "trial_period_days": None,
        "usage_type": "licensed",
    }
    return template(
        "subscription_item",
        id=new_id("si_", 14),
        created=now,
        subscription=sub_id,
        price=copy.deepcopy(price_obj),
        quantity=quantity,
        plan=plan,
        current_period_start=start,
        current_period_end=end,
        billing_thresholds=None,
    )


def invoice(
    now: int,
    *,
    cust: Obj,
    sub: Obj | None,
    lines: list[tuple[Obj, int, int, int]],
    reason: str,
    number: str,
    metadata: dict[str, str] | None = None,
) -> Obj:
    """A finalized, open invoice; `lines` are (price, quantity, period_start, period_end)."""
    iid = new_id("in_")
    data = [
        invoice_line(iid, sub, price_obj, qty, start, end) for price_obj, qty, start, end in lines
    ]
    total = sum(line["amount"] for line in data)
    parent = None
    if sub is not None:
        parent = {
            "quote_details": None,
            "type": "subscription_details",
            "subscription_details": {"metadata": dict(sub["metadata"]), "subscription": sub["id"]},
        }
    invoice_obj = template(
        "invoice",
        id=iid,
        created=now,
        customer=cust["id"],
        customer_email=cust["email"],
        customer_name=cust["name"],
        customer_shipping=None,
        currency=data[0]["currency"],
        amount_due=total,
        amount_paid=0,
        amount_remaining=total,
        subtotal=total,
        subtotal_excluding_tax=total,
        total=total,
        total_excluding_tax=total,
        amount_overpaid=0,
        billing_reason=reason,
        number=number,
        status="open",
        attempted=False,
        attempt_count=0,
        auto_advance=True,
        due_date=None,
        effective_at=now,
        period_start=now,
        period_end=now,
        parent=parent,
        lines={
            "object": "list",
            "data": data,
            "has_more": False,
            "total_count": len(data),
            "url": f"/v1/invoices/{iid}/lines",
        },
        last_finalization_error=None,
        from_invoice=None,
        shipping_cost=None,
        shipping_details=None,
        webhooks_delivered_at=None,
        next_payment_attempt=None,
        hosted_invoice_url=None,
        invoice_pdf=None,
        metadata=metadata or {},
        default_payment_method=None,
        status_transitions={
            "finalized_at": now,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        },
        extra={"amount_paid_off_stripe": 0, "payments": empty_list(f"/v1/invoices/{iid}/payments")},
    )
    invoice_obj.pop("subscription", None)  # removed from the API in 2025 (lives in parent now)
    return invoice_obj


def invoice_line(
    invoice_id: str, sub: Obj | None, price_obj: Obj, quantity: int, start: int, end: int
) -> Obj:
    amount = int(price_obj["unit_amount"]) * quantity
    item_id = None
    if sub is not None:
        item_id = next(
            (item["id"] for item in sub["items"]["data"] if item["price"]["id"] == price_obj["id"]),
            None,
        )
    parent = {
        "type": "subscription_item_details" if sub else "invoice_item_details",
        "invoice_item_details": None,
        "subscription_item_details": None,
    }
    if sub is not None:
        parent["subscription_item_details"] = {
            "invoice_item": None,
            "proration": False,
            "proration_details": None,
            "subscription": sub["id"],
            "subscription_item": item_id,
        }
    else:
        parent["invoice_item_details"] = {
            "invoice_item": new_id("ii_"),
            "proration": False,
            "proration_details": None,
            "subscription": None,
        }
    return template(
        "line_item",
        id=new_id("il_"),
        invoice=invoice_id,
        amount=amount,
        subtotal=amount,
        currency=price_obj["currency"],
        quantity=quantity,
        period={"start": start, "end": end},
        parent=parent,
        description=f"{quantity} × {price_obj.get('nickname') or price_obj['product']}",
        pricing={
            "type": "price_details",
            "price_details": {"price": price_obj["id"], "product": price_obj["product"]},
            "unit_amount_decimal": price_obj["unit_amount_decimal"],
        },
        subscription=sub["id"] if sub else None,
    )


def invoice_payment(now: int, inv: Obj, pi_id: str, paid: bool) -> Obj:
    return template(
        "invoice_payment",
        id=new_id("inpay_"),
        created=now,
        invoice=inv["id"],
        livemode=False,
        is_default=True,
        amount_paid=inv["amount_due"] if paid else None,
        amount_requested=inv["amount_due"],
        currency=inv["currency"],
        payment={"type": "payment_intent", "payment_intent": pi_id},
        status="paid" if paid else "open",
        status_transitions={"canceled_at": None, "paid_at": now if paid else None},
    )


def refund(now: int, *, ch: Obj, amount: int, reason: str | None, metadata: dict[str, str]) -> Obj:
    return template(
        "refund",
        id=new_id("re_"),
        created=now,
        amount=amount,
        charge=ch["id"],
        currency=ch["currency"],
        payment_intent=ch["payment_intent"],
        reason=reason,
        metadata=metadata,
        status="succeeded",
        customer=ch["customer"],
        payment_method=ch["payment_method"],
        balance_transaction=new_id("txn_"),
    )


def dispute(now: int, *, ch: Obj, amount: int, reason: str) -> Obj:
    obj = template(
        "dispute",
        id=new_id("dp_"),
        created=now,
        amount=amount,
        charge=ch["id"],
        currency=ch["currency"],
        payment_intent=ch["payment_intent"],
        reason=reason,
        status="needs_response",
        metadata={},
        enhanced_eligibility_types=[],
        is_charge_refundable=False,
    )
    obj["evidence_details"].update(due_by=now + 7 * 86400, has_evidence=False, past_due=False)
    obj["payment_method_details"]["card"].update(
        brand=ch["payment_method_details"]["card"]["brand"], case_type="chargeback"
    )
    return obj
