"""Route handlers: one module per Stripe resource, plus the emulator controls and the checkout page."""
