"""PDF receipts of paid invoices, and one-time purchases (invoice, receipt, refund) end to end."""

from __future__ import annotations

import io
from datetime import datetime

from pypdf import PdfReader

from db.billing.tables import Invoice, Purchase
from server.i18n import format_date
from tests.billing.test_lifecycle import _state
from tests.billing.test_purchase_flow import _buy, _purchase_of, _until, shop  # noqa: F401
from tests.billing.test_refunds import _bought, _owner


def pdf_text(content: bytes) -> str:
    assert content.startswith(b"%PDF-")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


async def test_the_buyer_downloads_a_pdf_receipt_and_nobody_else_can(
    shop,
    make_client,
    login,
    read_mail,
):
    buyer, me, purchase = await _bought(shop, make_client, login, "pdf@example.com")
    detail = (await buyer.get(f"/api/purchases/{purchase['id']}")).json()
    (invoice,) = detail["invoices"]
    assert (invoice["status"], invoice["amount_paid_cents"]) == ("paid", 1900)
    assert invoice["receipt_number"] == f"WEOKTO-R-{invoice['id']:06d}"
    url = invoice["receipt_url"]
    assert url == f"/api/purchases/{purchase['id']}/invoices/{invoice['id']}/receipt.pdf"
    res = await buyer.get(url)
    assert res.status_code == 200 and res.headers["content-type"] == "application/pdf"
    text = pdf_text(res.content)
    for expected in (
        "WEOKTO",
        "Reçu",  # in the buyer's language: the platform's French by default
        invoice["receipt_number"],
        "pdf@example.com",
        "VIP (Monthly)",
        "19,00",
        invoice["stripe_invoice_id"],
        format_date(datetime.fromisoformat(invoice["paid_at"]), "long", "fr"),
    ):
        assert expected in text, (expected, text)
    assert "Remboursé" not in text
    assert invoice["receipt_number"] in pdf_text((await buyer.get(url)).content)  # stable
    mail = await read_mail("pdf@example.com")
    while not mail["subject"].startswith("Reçu"):
        mail = await read_mail("pdf@example.com")
    assert url in mail["text"] and url in mail["html"] and invoice["receipt_number"] in mail["text"]

    other = await make_client()
    await login(other, "not-mine@example.com")
    res = await other.get(url)
    assert res.status_code == 404 and res.json()["error"]["code"] == "invoice_not_found"
    wrong_purchase = f"/api/purchases/{purchase['id'] + 1}/invoices/{invoice['id']}/receipt.pdf"
    assert (await buyer.get(wrong_purchase)).status_code == 404
    anonymous = await make_client()
    assert (await anonymous.get(url)).status_code == 401


async def test_unpaid_invoices_have_no_receipt_and_refunds_show_on_it(
    shop,
    make_client,
    login,
):
    buyer, me, purchase = await _bought(shop, make_client, login, "unpaid@example.com")
    open_row = (
        await Invoice.insert(
            Invoice(
                stripe_invoice_id="in_open_test",
                purchase=purchase["id"],
                amount_paid_cents=0,
                currency="eur",
                status="open",
            )
        ).returning(Invoice.id)
    )[0]
    res = await buyer.get(f"/api/purchases/{purchase['id']}/invoices/{open_row['id']}/receipt.pdf")
    assert res.status_code == 409 and res.json()["error"]["code"] == "invoice_not_paid"
    listed = (await buyer.get(f"/api/purchases/{purchase['id']}")).json()["invoices"]
    assert [i["receipt_url"] is None for i in listed] == [False, True]
    paid = (
        await Invoice.select()
        .where((Invoice.purchase == purchase["id"]) & (Invoice.status == "paid"))
        .first()
    )
    await Invoice.update({Invoice.amount_refunded_cents: 500}).where(Invoice.id == paid["id"])
    res = await buyer.get(f"/api/purchases/{purchase['id']}/invoices/{paid['id']}/receipt.pdf")
    text = pdf_text(res.content)
    assert "Remboursé" in text and "5,00" in text and "19,00" in text


async def _one_time_button(owner, shop):
    plan = (
        await owner.post(
            "/api/owner/plans",
            json={
                "product_id": shop["plan"]["product_id"],
                "name": "Lifetime",
                "price_cents": 14900,
                "interval": "LIFETIME",
            },
        )
    ).json()
    button = (
        await owner.post(
            "/api/owner/payment-buttons",
            json={
                "plan_id": plan["id"],
                "display_name": "VIP for life",
                "success_url": "https://x.test/ok",
                "cancel_url": "https://x.test/no",
            },
        )
    ).json()
    return {**shop, "plan": plan, "button": button}


async def test_one_time_purchase_gets_invoice_receipt_and_refund(
    shop,
    make_client,
    login,
    read_mail,
):
    lifetime = await _one_time_button(await _owner(make_client, login), shop)
    buyer = await make_client()
    me = (await login(buyer, "lifetime@example.com"))["user"]
    session_id = await _buy(lifetime, buyer)
    purchase = await _until(lambda: _purchase_of(me["id"]))
    assert (purchase["stripe_checkout_session_id"], purchase["stripe_subscription_id"]) == (
        session_id,
        None,
    )
    assert purchase["status"] == "ACTIVE" and purchase["plan"] == lifetime["plan"]["id"]
    invoice = await _until(
        lambda: Invoice.select().where(Invoice.purchase == purchase["id"]).first()
    )
    assert (invoice["status"], invoice["amount_paid_cents"]) == ("paid", 14900)
    assert invoice["stripe_payment_intent_id"] and invoice["paid_at"]
    mail = await read_mail("lifetime@example.com")
    while not mail["subject"].startswith("Reçu"):
        mail = await read_mail("lifetime@example.com")
    assert "149,00\xa0€" in mail["subject"] and "VIP" in mail["subject"]
    url = f"/api/purchases/{purchase['id']}/invoices/{invoice['id']}/receipt.pdf"
    assert "149,00" in pdf_text((await buyer.get(url)).content)
    access = (await buyer.get(f"/api/products/{lifetime['plan']['product_id']}/access")).json()
    assert (access["has_access"], access["status"], access["until"]) == (True, "ACTIVE", None)
    assert await _state(me["id"], shop["guild"]["id"]) == ("ACTIVE", True)

    asked = await buyer.post(
        "/api/refunds/request", json={"purchase_id": purchase["id"], "reason": "Bought twice"}
    )
    assert asked.status_code == 201 and asked.json()["amount_cents"] == 14900
    owner = await _owner(make_client, login)
    approved = await owner.post(f"/api/owner/refunds/{asked.json()['id']}/approve")
    assert approved.status_code == 200, approved.text

    async def ended():
        row = await _purchase_of(me["id"])
        return row if row["status"] == "EXPIRED" else None

    await _until(ended)
    assert await _state(me["id"], shop["guild"]["id"]) == ("EXPIRED", False)
    assert await Purchase.count().where(Purchase.user == me["id"]) == 1
    row = await Invoice.select().where(Invoice.id == invoice["id"]).first()
    assert row["amount_refunded_cents"] == 14900
