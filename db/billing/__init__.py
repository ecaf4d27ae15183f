"""Billing: inbound Stripe events (and, next, catalog, customers, invoices, refunds)."""
