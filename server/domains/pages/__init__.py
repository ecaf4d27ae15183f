"""Server-rendered pages of both platforms."""
