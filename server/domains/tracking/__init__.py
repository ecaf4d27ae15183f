"""Affiliate tracking: link clicks, last-click attribution, and the affiliate dashboards."""
