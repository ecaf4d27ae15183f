"""Platform of the current request, for controllers."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection

from core.settings import get_settings
from server.domains.platforms.queries import Platform, is_local_host, platform_for_host


def platform_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Platform:
    return platform_for_host(connection.headers.get("host", ""))


def is_secure_context(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """Cookies are Secure everywhere but on localhost, where dev runs over plain HTTP.

    In production always: the Host header is the client's to choose, and a session cookie
    set without Secure would later travel over any plain-HTTP link to the site.
    """
    if get_settings().is_production:
        return True
    return not is_local_host(connection.headers.get("host", ""))


def client_ip(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    return connection.client.host if connection.client else "unknown"
