"""Test suite: tests/<domain>/ mirrors server/domains; conftest.py holds the session harness."""
