"""The emulator through the official stripe library: objects, errors, idempotency, lists, auth."""

from __future__ import annotations

import httpx
import pytest
import stripe

from devtools.stripe_emulator.forms import parse_form
from tests.stripe_emulator.conftest import API_KEY, Emulator
from tests.stripe_emulator.flows import monthly_price, pay, subscription_session


def test_catalog_customer_and_checkout_session_parse_as_stripe_objects(
    client: stripe.StripeClient, emu: Emulator
) -> None:
    price = monthly_price(client, amount=1500, count=3)
    assert isinstance(price, stripe.Price) and price.id.startswith("price_")
    assert (
        price.recurring is not None
        and price.recurring.interval_count == 3
        and price.type == "recurring"
    )
    customer = client.v1.customers.create({"email": "a@example.com", "metadata": {"user_id": "42"}})
    assert isinstance(customer, stripe.Customer) and customer.id.startswith("cus_")
    assert customer.metadata["user_id"] == "42"

    session = subscription_session(
        client,
        price,
        customer=customer.id,
        customer_email=None,
        subscription_data={"trial_period_days": 7, "metadata": {"plan": "q"}},
    )
    assert isinstance(session, stripe.checkout.Session)
    assert (
        session.id.startswith("cs_test_")
        and session.status == "open"
        and session.mode == "subscription"
    )
    assert session.url == f"{emu.base}/checkout/{session.id}"
    assert (
        session.amount_total == 1500
        and session.currency == "eur"
        and session.customer == customer.id
    )
    assert session.client_reference_id == "user-7" and session.metadata["user_id"] == "7"

    again = client.v1.checkout.sessions.retrieve(session.id, {"expand": ["line_items", "customer"]})
    assert isinstance(again.customer, stripe.Customer) and again.customer.email == "a@example.com"
    assert again.line_items is not None and again.line_items.data[0].price.id == price.id


def test_global_api_base_style_works_too(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    # The app configures the module globals (stripe.api_base / api_key); check that path once.
    monkeypatch.setattr(stripe, "api_base", emu.base)
    monkeypatch.setattr(stripe, "api_key", API_KEY)
    customer = stripe.Customer.create(email="g@example.com")
    assert stripe.Customer.retrieve(customer.id).email == "g@example.com"
    updated = stripe.Customer.modify(customer.id, metadata={"a": "1"})
    assert updated.metadata["a"] == "1"


async def test_async_httpx_client_like_the_app(emu: Emulator) -> None:
    # server/integrations/stripe.py uses StripeClient over HTTPXClient and the *_async methods.
    http = stripe.HTTPXClient()
    client = stripe.StripeClient(
        API_KEY, http_client=http, base_addresses={"api": emu.base}, max_network_retries=0
    )
    try:
        product = await client.v1.products.create_async(
            {"name": "Async", "metadata": {"plan_id": "3"}}
        )
        updated = await client.v1.products.update_async(
            product.id, {"active": False, "metadata": {"plan_id": ""}}
        )
        assert updated.active is False and updated.metadata.to_dict() == {}
        listed = await client.v1.products.list_async({"active": False})
        assert [p.id for p in listed.data] == [product.id]
    finally:
        await http.close_async()
        http.close()


def test_nested_form_encoding_is_decoded() -> None:
    parsed = parse_form(
        "line_items[0][price]=p1&line_items[0][quantity]=2&line_items[1][price]=p2"
        "&metadata[user_id]=7&expand[]=a&expand[]=b&created[gte]=5&flag=true"
    )
    assert parsed == {
        "line_items": [{"price": "p1", "quantity": "2"}, {"price": "p2"}],
        "metadata": {"user_id": "7"},
        "expand": ["a", "b"],
        "created": {"gte": "5"},
        "flag": "true",
    }


def test_raw_form_post_with_nested_keys(client: stripe.StripeClient, emu: Emulator) -> None:
    price = monthly_price(client)
    body = (
        f"mode=subscription&line_items[0][price]={price.id}&line_items[0][quantity]=2"
        "&metadata[user_id]=9&subscription_data[metadata][tier]=gold&expand[]=line_items"
    )
    response = httpx.post(
        f"{emu.base}/v1/checkout/sessions",
        content=body,
        headers={
            "Authorization": f"Bearer {API_KEY}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert response.status_code == 200, response.text
    session = response.json()
    assert session["metadata"] == {"user_id": "9"} and session["amount_total"] == 4000
    assert session["line_items"]["data"][0]["quantity"] == 2
    paid = pay(emu, session["id"])
    assert client.v1.subscriptions.retrieve(paid["subscription"]).metadata["tier"] == "gold"


def test_errors_have_stripe_shape(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.customers.retrieve("cus_nope")
    assert missing.value.http_status == 404 and missing.value.code == "resource_missing"
    assert missing.value.json_body["error"]["param"] == "id"
    with pytest.raises(stripe.InvalidRequestError) as required:
        client.v1.checkout.sessions.create({"mode": "subscription"})
    assert required.value.code == "parameter_missing" and required.value.param == "line_items"


def test_idempotency_replays_and_rejects_mismatch(client: stripe.StripeClient) -> None:
    first = client.v1.customers.create({"email": "i@example.com"}, {"idempotency_key": "key-1"})
    second = client.v1.customers.create({"email": "i@example.com"}, {"idempotency_key": "key-1"})
    assert first.id == second.id
    assert (
        second.last_response is not None
        and second.last_response.headers.get("idempotent-replayed") == "true"
    )
    assert len(client.v1.customers.list().data) == 1
    with pytest.raises(stripe.IdempotencyError) as err:
        client.v1.customers.create({"email": "other@example.com"}, {"idempotency_key": "key-1"})
    assert (
        err.value.http_status == 400 and err.value.json_body["error"]["type"] == "idempotency_error"
    )


def test_list_pagination(client: stripe.StripeClient) -> None:
    ids = [client.v1.customers.create({"email": f"p{i}@example.com"}).id for i in range(5)]
    first = client.v1.customers.list({"limit": 2})
    assert first.object == "list" and first.url == "/v1/customers" and first.has_more
    assert [c.id for c in first.data] == ids[::-1][:2]  # newest first
    second = client.v1.customers.list({"limit": 2, "starting_after": first.data[-1].id})
    assert [c.id for c in second.data] == ids[::-1][2:4]
    assert [c.id for c in client.v1.customers.list({"limit": 2}).auto_paging_iter()] == ids[::-1]
    assert [c.id for c in client.v1.customers.list({"email": "p3@example.com"}).data] == [ids[3]]


def test_bad_or_missing_api_key_is_401(emu: Emulator) -> None:
    for key in ("sk_live_real", "nonsense"):
        bad = stripe.StripeClient(key, base_addresses={"api": emu.base}, max_network_retries=0)
        with pytest.raises(stripe.AuthenticationError) as err:
            bad.v1.customers.list()
        assert err.value.http_status == 401
    response = httpx.get(f"{emu.base}/v1/customers")
    assert (
        response.status_code == 401 and response.json()["error"]["type"] == "invalid_request_error"
    )
