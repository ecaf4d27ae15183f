"""Billing writers (check_* / do_*), one module per concern: purchases follow Stripe, invoices
and charges record payments, refunds and disputes, checkout starts a payment, webhooks store and
drain Stripe events (routed by the table in handlers), reconcile catches missed events."""
