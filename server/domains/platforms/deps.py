"""Platform of the current request, for controllers."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection

from server.domains.platforms.queries import Platform, is_local_host, platform_for_host


def platform_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Platform:
    return platform_for_host(connection.headers.get("host", ""))


def is_secure_context(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """Cookies are Secure everywhere but on localhost, where dev runs over plain HTTP."""
    return not is_local_host(connection.headers.get("host", ""))


def client_ip(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    return connection.client.host if connection.client else "unknown"
