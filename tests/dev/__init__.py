"""Tests of the developer tooling in devtools (embedded services, run command)."""
