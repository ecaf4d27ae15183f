"""Refunds: asked within 14 days, decided by an owner, refunded once through Stripe, access ends."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from db.billing.tables import Invoice, RefundRequest
from server.integrations.stripe import client
from tests.billing.test_lifecycle import _state
from tests.billing.test_purchase_flow import _buy, _purchase_of, _until, shop  # noqa: F401


async def _bought(shop, make_client, login, email):
    buyer = await make_client()
    me = (await login(buyer, email))["user"]
    await _buy(shop, buyer)
    purchase = await _until(lambda: _purchase_of(me["id"]))

    async def invoice():
        return (
            await Invoice.select()
            .where((Invoice.purchase == purchase["id"]) & (Invoice.status == "paid"))
            .first()
        )

    await _until(invoice)
    return buyer, me, purchase


async def _owner(make_client, login):
    owner = await make_client()
    await login(owner, "shop-owner@example.com")  # created by the shop fixture
    return owner


async def test_approved_refund_pays_back_once_and_ends_access(shop, make_client, login):
    buyer, me, purchase = await _bought(shop, make_client, login, "refund-me@example.com")
    asked = await buyer.post(
        "/api/refunds/request", json={"purchase_id": purchase["id"], "reason": "Not for me"}
    )
    assert asked.status_code == 201, asked.text
    req = asked.json()
    assert (req["status"], req["amount_cents"], req["currency"]) == ("pending", 1900, "eur")
    again = await buyer.post(
        "/api/refunds/request", json={"purchase_id": purchase["id"], "reason": "Twice"}
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "refund_pending"
    owner = await _owner(make_client, login)
    listing = await owner.get("/api/owner/refunds?status=pending")
    assert listing.status_code == 200, listing.text
    pending = listing.json()
    assert [r["id"] for r in pending] == [req["id"]]
    approvals = await asyncio.gather(
        *(owner.post(f"/api/owner/refunds/{req['id']}/approve") for _ in range(2))
    )
    assert sorted(a.status_code for a in approvals) == [200, 409]
    row = await RefundRequest.select().where(RefundRequest.id == req["id"]).first()
    refund = await client().v1.refunds.retrieve_async(row["stripe_refund_id"])
    assert refund.amount == 1900 and refund.status == "succeeded"
    refunds = await client().v1.refunds.list_async(params={"limit": 100})
    ours = [
        r
        for r in refunds.data
        if (r.to_dict().get("metadata") or {}).get("refund_request_id") == str(req["id"])
    ]
    assert len(ours) == 1

    async def expired():
        return True if (await _purchase_of(me["id"]))["status"] == "EXPIRED" else None

    await _until(expired)
    assert await _state(me["id"], shop["guild"]["id"]) == ("EXPIRED", False)
    mine = (await buyer.get("/api/refunds")).json()
    assert mine[0]["status"] == "approved"


async def test_rejected_refund_keeps_access_and_says_why(shop, make_client, login):
    buyer, me, purchase = await _bought(shop, make_client, login, "no-refund@example.com")
    req = (
        await buyer.post(
            "/api/refunds/request",
            json={"purchase_id": purchase["id"], "reason": "Changed my mind"},
        )
    ).json()
    owner = await _owner(make_client, login)
    res = await owner.post(
        f"/api/owner/refunds/{req['id']}/reject", json={"reason": "Used the course for 10 days"}
    )
    assert res.status_code == 200 and res.json()["status"] == "rejected"
    assert (await buyer.get("/api/refunds")).json()[0][
        "decision_reason"
    ] == "Used the course for 10 days"
    assert (await owner.post(f"/api/owner/refunds/{req['id']}/approve")).status_code == 409
    assert await _state(me["id"], shop["guild"]["id"]) == ("ACTIVE", True)


async def test_refund_window_and_ownership(shop, make_client, login):
    buyer, me, purchase = await _bought(shop, make_client, login, "late-refund@example.com")
    stranger = await make_client()
    await login(stranger, "stranger@example.com")
    res = await stranger.post(
        "/api/refunds/request", json={"purchase_id": purchase["id"], "reason": "give me money"}
    )
    assert res.status_code == 404
    assert (await stranger.get("/api/owner/refunds")).status_code == 403
    await Invoice.update({Invoice.paid_at: datetime.now(UTC) - timedelta(days=15)}).where(
        Invoice.purchase == purchase["id"]
    )
    res = await buyer.post(
        "/api/refunds/request", json={"purchase_id": purchase["id"], "reason": "too late"}
    )
    assert res.status_code == 400 and res.json()["error"]["code"] == "refund_window_closed"


async def test_owners_of_another_platform_cannot_see_or_decide(shop, make_client, login):
    from db.auth.tables import User

    buyer, _, purchase = await _bought(shop, make_client, login, "cross@example.com")
    req = (
        await buyer.post(
            "/api/refunds/request", json={"purchase_id": purchase["id"], "reason": "Please"}
        )
    ).json()
    await User.insert(User(platform="stam", email="stam-boss@example.com", role="owner"))
    stam_owner = await make_client("stam")
    await login(stam_owner, "stam-boss@example.com")
    assert (await stam_owner.get("/api/owner/refunds")).json() == []
    for action in ("approve", "reject"):
        res = await stam_owner.post(f"/api/owner/refunds/{req['id']}/{action}", json={})
        assert res.status_code == 404 and res.json()["error"]["code"] == "refund_not_found"
    assert (await buyer.post(f"/api/owner/refunds/{req['id']}/approve")).status_code == 403
    row = await RefundRequest.select().where(RefundRequest.id == req["id"]).first()
    assert row["status"] == "pending" and row["stripe_refund_id"] is None
