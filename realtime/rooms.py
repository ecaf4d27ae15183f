"""The one place where Socket.IO room names are made."""

from __future__ import annotations


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def guild_room(guild_id: int) -> str:
    return f"guild:{guild_id}"


def channel_room(channel_id: int) -> str:
    return f"channel:{channel_id}"


def session_room(session_id: str) -> str:
    """The sockets opened with one sign-in (one browser): what a logout of it addresses."""
    return f"session:{session_id}"
