"""Formations (video courses): availability, progress, completion, certificates."""
