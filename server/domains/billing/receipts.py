"""PDF receipts of paid invoices, for their buyer only (built on request, never stored)."""

from __future__ import annotations

import re

import msgspec
from fpdf import FPDF

from db.billing.tables import Invoice
from server.domains.auth.schemas import CurrentUser
from server.domains.billing.schemas import ReceiptRow
from server.domains.platforms.queries import Platform, branding
from server.errors import Conflict, NotFound
from server.i18n import format_date, format_money, gettext, locale_for_user, normalize

_SELECT = (
    'SELECT i.*, p."user" AS user_id, u.email, u.platform, u.locale AS buyer_locale, '
    "pr.name AS product, pl.name AS plan FROM invoices i JOIN purchases p ON p.id = i.purchase "
    'JOIN users u ON u.id = p."user" JOIN products pr ON pr.id = p.product '
    "JOIN plans pl ON pl.id = p.plan "
)


def receipt_number(platform: str, invoice_id: int) -> str:
    """Stable per invoice row: the same number on every download and in every email."""
    return f"{platform.upper()}-R-{invoice_id:06d}"


def receipt_path(purchase_id: int, invoice_id: int) -> str:
    return f"/api/purchases/{purchase_id}/invoices/{invoice_id}/receipt.pdf"


async def access_receipt(user: CurrentUser, purchase_id: int, invoice_id: int) -> ReceiptRow:
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
    return msgspec.convert(rows[0], ReceiptRow)


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
        # Babel's French group separator (narrow no-break space) is outside Latin-1.
        "\u202f": "\u00a0",
    }
)


def _latin1(text: str) -> str:
    # The PDF core fonts cover Latin-1 only: common typography is mapped, anything else
    # shows as "?" rather than failing the download.
    return text.translate(_PLAIN).encode("latin-1", "replace").decode("latin-1")


def _money(cents: int, currency: str, locale: str) -> str:
    # "€19.00" would read "EUR19.00" once made Latin-1: keep a space after a leading code.
    return re.sub(r"^([A-Z]{3})(?=\d)", r"\1 ", _latin1(format_money(cents, currency, locale)))


def receipt_locale(row: ReceiptRow) -> str:
    """The buyer's saved language, else their platform's."""
    return normalize(row.buyer_locale) or locale_for_user(None, row.platform)


def _line(pdf: FPDF, label: str, value: str) -> None:
    pdf.set_font("Helvetica", "", 11)
    pdf.cell(55, 8, _latin1(label))
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 8, _latin1(value), new_x="LMARGIN", new_y="NEXT")


def render_receipt(row: ReceiptRow) -> bytes:
    """The PDF in the buyer's language: labels, amounts and the date."""
    brand = branding(Platform(row.platform))
    locale = receipt_locale(row)

    paid_at = row.paid_at
    number = receipt_number(row.platform, row.id)
    pdf = FPDF(format="A4")
    pdf.set_title(
        _latin1(gettext("{brand} receipt {number}", locale).format(brand=brand.name, number=number))
    )
    pdf.set_creator(brand.name)
    pdf.set_lang(locale)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 22)
    pdf.cell(0, 14, brand.name, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 14)
    pdf.cell(0, 10, _latin1(gettext("Receipt", locale)), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    _line(pdf, gettext("Receipt number", locale), number)
    _line(pdf, gettext("Date paid", locale), format_date(paid_at, "long", locale))
    _line(pdf, gettext("Billed to", locale), row.email)
    _line(pdf, gettext("Product", locale), f"{row.product} ({row.plan})")
    _line(
        pdf,
        gettext("Amount paid", locale),
        _money(row.amount_paid_cents, row.currency, locale),
    )
    if row.amount_refunded_cents:
        _line(
            pdf,
            gettext("Refunded", locale),
            _money(row.amount_refunded_cents, row.currency, locale),
        )
    _line(pdf, gettext("Invoice reference", locale), row.stripe_invoice_id)
    pdf.ln(6)
    pdf.set_font("Helvetica", "", 9)
    footer = gettext(
        "Paid by card through Stripe. Your purchases, receipts and refund requests are in "
        "your {brand} account.",
        locale,
    )
    pdf.multi_cell(0, 5, _latin1(footer.format(brand=brand.name)))
    return bytes(pdf.output())
