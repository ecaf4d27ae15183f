"""Outgoing mail: branded templates and SMTP delivery."""
