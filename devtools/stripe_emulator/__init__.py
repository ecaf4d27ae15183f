"""Local, stateful emulator of the Stripe API subset the project uses (dev and tests only).

The app points the official `stripe` library at it (`stripe.api_base`) and cannot tell it from
Stripe: same form-encoded requests, JSON shapes (from Stripe's own fixtures in `data/`), errors,
idempotency, list pagination, events and signed webhooks. Emulator-only controls live under
`/_emulator/*` (clock, test cards, disputes, webhook chaos). Run: `python -m devtools.stripe_emulator`.
Nothing in the application imports this package.
"""
