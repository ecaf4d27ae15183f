"""The one place where Socket.IO room names are made."""
from __future__ import annotations


def user_room(user_id: int) -> str:
    return f"user:{user_id}"
