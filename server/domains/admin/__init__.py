"""Admin tools: user suspension."""
