"""Guilds: membership, channels, primary guild and moderation."""
