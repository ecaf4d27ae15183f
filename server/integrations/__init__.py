"""Clients of outside services, with typed views of what we read from them."""
