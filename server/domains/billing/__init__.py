"""Billing: Stripe webhooks in, (next) catalog, checkout, subscriptions and refunds."""
