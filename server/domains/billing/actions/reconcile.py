"""Daily reconciliation: fetch Stripe's recent events and process any the webhooks missed.

Events are stored by their Stripe id exactly as webhooks store them, so an event that did
arrive is skipped and one that did not is processed like any other.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

import msgspec
from stripe.params import EventListParams

from server.domains.billing.actions.webhooks import do_record_event
from server.integrations.stripe import client

LOOKBACK = timedelta(days=3)


class ReconcileResult(msgspec.Struct):
    seen: int
    missed: list[str]


async def do_reconcile(lookback: timedelta = LOOKBACK) -> ReconcileResult:
    since = int(time.time() - lookback.total_seconds())
    seen, missed = 0, []
    params: EventListParams = {"created": {"gte": since}, "limit": 100}
    while True:
        page = await client().v1.events.list_async(params=params)
        for event in page.data:
            seen += 1
            # The library parses some amounts into Decimal: stored as text, like Stripe's JSON.
            payload = json.dumps(event.to_dict(), default=str).encode()
            if await do_record_event(event, payload):
                missed.append(event.id)
        if not page.has_more or not page.data:
            break
        params["starting_after"] = page.data[-1].id
    return ReconcileResult(seen=seen, missed=missed)
