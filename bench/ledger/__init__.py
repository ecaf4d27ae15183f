"""Ledger maturation benchmark: the set-based statement against a naive per-row loop."""
