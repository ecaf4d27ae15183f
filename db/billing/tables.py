"""Billing tables. A Stripe event is stored once (UNIQUE stripe id) and processed by a task."""
from __future__ import annotations

from piccolo.columns import JSONB, Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class StripeEvent(Table, tablename="stripe_events"):
    stripe_id = Varchar(length=255, unique=True)
    type = Varchar(length=100, index=True)
    livemode = Varchar(length=5, default="false")
    stripe_created = Integer()
    payload = JSONB()
    # received -> processing -> succeeded | failed (retried) ; unhandled types end "ignored"
    status = Varchar(length=16, default="received", index=True)
    attempts = Integer(default=0)
    last_error = Text(default="")
    received_at = Timestamptz(default=TimestamptzNow())
    # When a worker took it: a 'processing' row older than the lease was orphaned by a crash.
    claimed_at = Timestamptz(null=True, default=None)
    processed_at = Timestamptz(null=True, default=None)
