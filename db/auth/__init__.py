"""Accounts, login tokens and sessions."""
