"""WEOKTO / STAM realtime community platform: the HTTP side."""
