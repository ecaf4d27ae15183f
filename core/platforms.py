"""The two platforms one deployment serves, and which one a request's host belongs to.

In core because every layer needs it (settings say which hosts are STAM; the language layer
picks each platform's default language); the platforms domain adds branding on top.
"""

from __future__ import annotations

from enum import Enum

from core.settings import Settings, get_settings


class Platform(str, Enum):
    WEOKTO = "weokto"
    STAM = "stam"


def hostname(host_header: str) -> str:
    """Host header without port, lower-cased (IPv6 literals keep their brackets)."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if ":" in host else host


def platform_for_host(host_header: str, settings: Settings | None = None) -> Platform:
    settings = settings or get_settings()
    return Platform.STAM if hostname(host_header) in settings.stam_hosts else Platform.WEOKTO
