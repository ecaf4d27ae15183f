"""Catalog: products, pricing plans and payment buttons (kept in sync with Stripe)."""
