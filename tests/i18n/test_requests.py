"""The language of error bodies, the language switch, and emails in the reader's language."""

from __future__ import annotations

import io

from pypdf import PdfReader

from db.auth.tables import User
from tests.billing.test_purchase_flow import shop  # noqa: F401
from tests.billing.test_refunds import _bought
from tests.fixtures import code_of

pytestmark = __import__("pytest").mark.usefixtures("celery_worker", "mailcatcher")


async def test_error_bodies_keep_the_code_and_translate_the_message(make_client):
    client = await make_client()
    client.headers["accept-language"] = "fr-FR,fr;q=0.9"
    fr = await client.get("/api/guilds/no-such-guild/channels")
    client.headers["accept-language"] = "en-US,en;q=0.9"
    en = await client.get("/api/guilds/no-such-guild/channels")
    assert fr.status_code == en.status_code
    assert fr.json()["error"]["code"] == en.json()["error"]["code"]
    assert fr.json()["error"]["message"] != en.json()["error"]["message"]
    # Litestar's own validation errors: translated top-level message, same code.
    client.headers["accept-language"] = "fr"
    bad = await client.post("/api/locale", json={"nope": 1})
    assert bad.status_code == 400
    assert bad.json()["error"] == {**bad.json()["error"], "code": "validation_error"}
    assert bad.json()["error"]["message"] == "Requête invalide"


async def test_no_accept_language_gets_the_platform_default(make_client):
    client = await make_client()
    del client.headers["accept-language"]
    res = await client.post("/api/locale", json={"locale": "de"})
    assert res.status_code == 400
    assert res.json()["error"]["code"] == "unsupported_locale"
    assert res.json()["error"]["message"] == "Cette langue n'est pas disponible"


async def test_the_switch_sets_a_cookie_for_a_visitor(make_client):
    client = await make_client()
    del client.headers["accept-language"]
    res = await client.post("/api/locale", json={"locale": "en"})
    assert res.status_code == 200 and res.json() == {"locale": "en", "saved": False}
    cookie = res.headers["set-cookie"]
    assert "lang=en" in cookie and "Max-Age=31536000" in cookie and "SameSite=lax" in cookie
    assert "HttpOnly" not in cookie  # the page's JS reads it
    # The cookie now beats the platform default and the browser.
    client.headers["accept-language"] = "fr"
    again = await client.post("/api/locale", json={"locale": "de"})
    assert again.json()["error"]["message"] == "This language is not available"


async def test_the_switch_needs_the_csrf_header(make_client):
    client = await make_client()
    del client.headers["x-csrftoken"]
    assert (await client.post("/api/locale", json={"locale": "en"})).status_code == 403


async def test_login_mail_is_french_by_default_and_english_once_chosen(make_client, read_mail):
    client = await make_client()
    email = "polyglot@example.com"
    await client.post("/api/auth/magic-link/send", json={"email": email})
    mail = await read_mail(email)
    assert "code de connexion" in mail["subject"] and "Votre code de connexion" in mail["text"]
    verified = await client.post(
        "/api/auth/magic-link/verify-otp", json={"email": email, "otp": code_of(mail)}
    )
    assert verified.status_code == 200, verified.text

    res = await client.post("/api/locale", json={"locale": "en"})
    assert res.status_code == 200 and res.json() == {"locale": "en", "saved": True}
    row = await User.select(User.locale).where(User.email == email).first()
    assert row["locale"] == "en"
    # The saved choice beats the browser for this user's requests.
    other = await make_client()
    other.cookies.update(client.cookies)
    other.cookies.delete("lang")
    other.headers["x-csrftoken"] = client.headers["x-csrftoken"]
    other.headers["accept-language"] = "fr"
    refused = await other.post("/api/locale", json={"locale": "xx"})
    assert refused.json()["error"]["message"] == "This language is not available"

    again = await client.post("/api/auth/magic-link/send", json={"email": email})
    assert again.status_code == 202, again.text
    mail = await read_mail(email)
    assert "sign-in code" in mail["subject"] and "Your sign-in code" in mail["text"]


def _pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


async def test_receipt_mail_and_pdf_in_the_buyer_language(shop, make_client, login, read_mail):
    buyer, me, purchase = await _bought(shop, make_client, login, "recu@example.com")
    mail = await read_mail("recu@example.com")
    while not mail["subject"].startswith("Reçu"):
        mail = await read_mail("recu@example.com")
    assert "19,00\xa0€" in mail["subject"] and "Montant payé : 19,00\xa0€" in mail["text"]
    (invoice,) = (await buyer.get(f"/api/purchases/{purchase['id']}")).json()["invoices"]
    french = _pdf_text((await buyer.get(invoice["receipt_url"])).content)
    assert "Reçu" in french and "Montant payé" in french and "19,00" in french
    assert "EUR" in french and "19.00" not in french

    await buyer.post("/api/locale", json={"locale": "en"})
    english = _pdf_text((await buyer.get(invoice["receipt_url"])).content)
    assert "Receipt" in english and "Amount paid" in english and "EUR 19.00" in english
