"""One package per business domain."""
