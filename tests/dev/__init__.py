"""Tests of the developer tooling in server/dev (embedded services, run command)."""
