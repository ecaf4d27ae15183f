"""A referred buyer pays through the emulator: the checkout carries the attribution, the webhook
applies it, and the affiliate's socket hears every step (API, webhook worker, maturation job)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from db.affiliates.tables import Commission
from db.billing.tables import Purchase
from db.tracking.tables import PurchaseAttribution
from tests.affiliates.test_tracking import make_affiliate
from tests.fixtures import until
from tests.shop import open_shop


@pytest.fixture
async def shop(make_client, login, stripe_emulator, live_server, celery_worker):
    return await open_shop(make_client, login, stripe_emulator, price_cents=4000)


async def _checkout(shop: dict[str, Any], buyer: httpx.AsyncClient) -> str:
    res = await buyer.post(
        "/api/payments/checkout", json={"buttonKey": shop["button"]["button_key"]}
    )
    assert res.status_code == 200, res.text
    return res.json()["session_id"]


async def _pay(shop: dict[str, Any], session_id: str) -> None:
    async with httpx.AsyncClient(base_url=shop["emulator"]) as emu:
        paid = await emu.post(
            f"/_emulator/checkout/{session_id}/pay", json={"card": "4242424242424242"}
        )
        assert paid.status_code == 200, paid.text


async def _session_metadata(session_id: str) -> dict[str, str]:
    from server.integrations.stripe import client

    return (await client().v1.checkout.sessions.retrieve_async(session_id)).to_dict()["metadata"]


async def test_checkout_metadata_carries_the_attribution_only_when_there_is_one(
    shop, make_client, login
):
    aff = await make_affiliate("alice")
    organic = await make_client()
    await login(organic, "organic@example.com")
    assert "affiliate_id" not in await _session_metadata(await _checkout(shop, organic))
    referred = await make_client()
    await referred.get("/api/affiliate/track?ref=alice")  # clicked before signing in
    await login(referred, "referred@example.com")
    meta = await _session_metadata(await _checkout(shop, referred))  # the checkout claims it
    assert meta["affiliate_id"] == str(aff["id"]) and meta["attribution_source"] == "link"


async def test_a_referred_purchase_moves_the_affiliates_numbers_live(
    shop, make_client, login, live_server, read_mail
):
    from server.domains.affiliates.actions.maturation import do_mature_due
    from tests.realtime.clients import Inbox, connect, sign_in

    aff = await make_affiliate("alice", email="alice@example.com")
    cookie = await sign_in(live_server.weokto_url, "alice@example.com", read_mail)
    sock = await connect(live_server.weokto_url, cookie)
    inbox = Inbox(sock, "affiliate_update")
    dashboard = await make_client()
    await login(dashboard, "alice@example.com")

    def reasons() -> list[str]:
        return [e["reason"] for e in inbox.of("affiliate_update")]

    async def stats() -> dict[str, Any]:
        return (await dashboard.get("/api/affiliate/stats")).json()

    try:
        buyer = await make_client()
        me = (await login(buyer, "buyer@example.com"))["user"]
        await buyer.get("/api/affiliate/track?ref=alice")  # API: click + attribution
        await inbox.wait(lambda i: reasons()[:2] == ["click", "attribution"], timeout=20)
        assert (await stats())["signups"] == 1
        await _pay(shop, await _checkout(shop, buyer))
        # Webhook worker: the purchase is attributed, then the paid invoice earns a commission.
        await inbox.wait(lambda i: "commission" in reasons(), timeout=60)
        purchase = await until(lambda: Purchase.select().where(Purchase.user == me["id"]).first())
        attribution = (
            await PurchaseAttribution.select()
            .where(PurchaseAttribution.purchase == purchase["id"])
            .first()
        )
        assert attribution["affiliate"] == aff["id"] and attribution["source"] == "link"
        commission = await Commission.select().where(Commission.affiliate == aff["id"]).first()
        now = await stats()
        assert now["locked_cents"] == commission["amount_cents"] > 0
        assert now["active_customers"] == 1 and now["mrr_cents"] == 4000
        assert now["next_unlock_at"] is not None and now["available_cents"] == 0
        # The maturation job, run as if the unlock date had passed.
        later = datetime.now(UTC) + timedelta(days=91)
        await do_mature_due(now=later)
        await inbox.wait(lambda i: "maturation" in reasons(), timeout=20)
        assert (await stats())["available_cents"] == commission["amount_cents"]
    finally:
        await sock.disconnect()
