"""PDF receipts of paid invoices, for their buyer only (built on request, never stored)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fpdf import FPDF

from db.billing.tables import Invoice
from server.domains.auth.schemas import CurrentUser
from server.domains.billing.notices import money
from server.domains.platforms.queries import Platform, branding
from server.errors import Conflict, NotFound

_SELECT = (
    'SELECT i.*, p."user" AS user_id, u.email, u.platform, pr.name AS product, '
    "pl.name AS plan FROM invoices i JOIN purchases p ON p.id = i.purchase "
    'JOIN users u ON u.id = p."user" JOIN products pr ON pr.id = p.product '
    "JOIN plans pl ON pl.id = p.plan "
)


def receipt_number(platform: str, invoice_id: int) -> str:
    """Stable per invoice row: the same number on every download and in every email."""
    return f"{platform.upper()}-R-{invoice_id:06d}"


def receipt_path(purchase_id: int, invoice_id: int) -> str:
    return f"/api/purchases/{purchase_id}/invoices/{invoice_id}/receipt.pdf"


async def access_receipt(user: CurrentUser, purchase_id: int, invoice_id: int) -> dict[str, Any]:
    """The buyer's own paid invoice; anyone else's is simply not found."""
    rows = await Invoice.raw(
        _SELECT + 'WHERE i.id = {} AND i.purchase = {} AND p."user" = {}',
        invoice_id,
        purchase_id,
        user.id,
    )
    if not rows:
        raise NotFound("No such invoice", code="invoice_not_found")
    if rows[0]["status"] != "paid" or rows[0]["paid_at"] is None:
        raise Conflict("This invoice is not paid: it has no receipt", code="invoice_not_paid")
    return rows[0]


_PLAIN = str.maketrans(
    {
        "\u2013": "-",
        "\u2014": "-",
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2026": "...",
        "\u20ac": "EUR",
    }
)


def _latin1(text: str) -> str:
    # The PDF core fonts cover Latin-1 only: common typography is mapped, anything else
    # shows as "?" rather than failing the download.
    return text.translate(_PLAIN).encode("latin-1", "replace").decode("latin-1")


def _line(pdf: FPDF, label: str, value: str) -> None:
    pdf.set_font("Helvetica", "", 11)
    pdf.cell(55, 8, _latin1(label))
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 8, _latin1(value), new_x="LMARGIN", new_y="NEXT")


def render_receipt(row: dict[str, Any]) -> bytes:
    brand = branding(Platform(row["platform"]))
    paid_at: datetime = row["paid_at"]
    pdf = FPDF(format="A4")
    pdf.set_title(f"{brand.name} receipt {receipt_number(row['platform'], row['id'])}")
    pdf.set_creator(brand.name)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 22)
    pdf.cell(0, 14, brand.name, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 14)
    pdf.cell(0, 10, "Receipt", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    _line(pdf, "Receipt number", receipt_number(row["platform"], row["id"]))
    _line(pdf, "Date paid", f"{paid_at:%Y-%m-%d}")
    _line(pdf, "Billed to", row["email"])
    _line(pdf, "Product", f"{row['product']} ({row['plan']})")
    _line(pdf, "Amount paid", money(row["amount_paid_cents"], row["currency"]))
    if row["amount_refunded_cents"]:
        _line(pdf, "Refunded", money(row["amount_refunded_cents"], row["currency"]))
    _line(pdf, "Invoice reference", row["stripe_invoice_id"])
    pdf.ln(6)
    pdf.set_font("Helvetica", "", 9)
    pdf.multi_cell(
        0,
        5,
        _latin1(
            f"Paid by card through Stripe. Your purchases, receipts and "
            f"refund requests are in your {brand.name} account."
        ),
    )
    return bytes(pdf.output())
