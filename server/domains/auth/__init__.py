"""Passwordless login (magic link + 6-digit code), sessions and roles."""
