"""Guilds, categories, channels, memberships, bans and the moderation audit log."""
