"""Soak load: many sockets in many channels at a steady rate for minutes (see bench/load/soak.py)."""
