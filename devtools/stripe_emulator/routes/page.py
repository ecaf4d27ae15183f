"""The hosted checkout page at a session's `url`: a card form with Stripe's test cards."""

from __future__ import annotations

from html import escape
from typing import Any

from litestar import Response
from litestar.response import Redirect

from devtools.stripe_emulator.api import Req, get, params_of, post, store_of
from devtools.stripe_emulator.checkout import complete_session
from devtools.stripe_emulator.errors import StripeError

STYLE = """body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#222}
label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}
button{margin-top:1rem;width:100%;padding:.7rem;font-size:1rem;background:#635bff;color:#fff;border:0;border-radius:4px}
.error{color:#b00020;margin-top:1rem}.lines td{padding:.2rem .5rem}.muted{color:#777;font-size:.85rem}"""


def _money(amount: int, currency: str) -> str:
    return f"{amount / 100:.2f} {currency.upper()}"  # display only; amounts stay integer cents


def _lines(store: Any, session: dict[str, Any]) -> str:
    rows = []
    for item in store.private(session["id"]).get("line_items", []):
        rec = item["price"]["recurring"]
        every = f" / {rec['interval_count']} {rec['interval']}" if rec else ""
        rows.append(
            f"<tr><td>{escape(item['description'])} × {item['quantity']}</td>"
            f"<td>{_money(item['amount_total'], item['currency'])}{escape(every)}</td></tr>"
        )
    return "".join(rows)


def page_html(
    store: Any, session: dict[str, Any], error: str | None = None, email: str = ""
) -> str:
    sid = escape(session["id"])
    if session["status"] != "open":
        body = f"<p>This checkout session is {escape(session['status'])}.</p>"
    else:
        email = email or session.get("customer_email") or ""
        trial = (store.private(session["id"]).get("subscription_data") or {}).get(
            "trial_period_days"
        )
        trial_note = f"<p>Free trial: {int(trial)} days.</p>" if trial else ""
        error_html = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
        cancel = (
            f'<p><a href="{escape(session["cancel_url"])}" id="cancel">Cancel and go back</a></p>'
            if session.get("cancel_url")
            else ""
        )
        body = f"""<table class="lines">{_lines(store, session)}</table>{trial_note}
<form method="post" action="/checkout/{sid}">
<label for="email">Email</label><input id="email" name="email" type="email" value="{escape(email)}" required>
<label for="card">Card number</label><input id="card" name="card" inputmode="numeric" autocomplete="cc-number"
 placeholder="4242 4242 4242 4242" required>
<label for="exp">Expiry</label><input id="exp" name="exp" placeholder="12 / 34" value="12 / 34">
<label for="cvc">CVC</label><input id="cvc" name="cvc" placeholder="123" value="123">
<label for="name">Name on card</label><input id="name" name="name">
<button type="submit" id="pay">Pay</button></form>{error_html}{cancel}
<p class="muted">Stripe emulator. 4242 4242 4242 4242 pays; 4000 0000 0000 0002 is declined;
4000 0000 0000 0341 pays now and fails on renewal.</p>"""
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Checkout</title><style>{STYLE}</style>"
        f"</head><body><h1>Checkout</h1>{body}</body></html>"
    )


def _html(content: str, status: int = 200) -> Response[str]:
    return Response(content, status_code=status, media_type="text/html")


@get("/checkout/{object_id:str}")
async def checkout_page(request: Req, object_id: str) -> Response[str]:
    store = store_of(request)
    return _html(page_html(store, store.get("checkout.session", object_id)))


@post("/checkout/{object_id:str}", status_code=303)
async def checkout_submit(request: Req, object_id: str) -> Response[Any]:
    store, form = store_of(request), await params_of(request)
    async with store.lock:
        session = store.get("checkout.session", object_id)
        try:
            complete_session(
                store,
                session,
                str(form.get("card") or ""),
                form.get("email") or None,
                form.get("name") or None,
            )
        except StripeError as err:  # a decline shows on the page, which stays usable
            return _html(
                page_html(store, session, err.body["message"], str(form.get("email") or "")), 402
            )
    target = (session.get("success_url") or f"/checkout/{object_id}").replace(
        "{CHECKOUT_SESSION_ID}", object_id
    )
    return Redirect(target, status_code=303)


HANDLERS = [checkout_page, checkout_submit]
