"""Which platform a host belongs to, and each platform's branding."""

from __future__ import annotations

import msgspec

from core.platforms import Platform, hostname, platform_for_host
from core.settings import Settings, get_settings

__all__ = ["Branding", "Platform", "branding", "hostname", "platform_for_host"]


class Branding(msgspec.Struct, frozen=True):
    key: str
    name: str
    tagline: str
    accent: str
    accent_dark: str
    base_url: str
    cookie_name: str


def _branding(settings: Settings) -> dict[Platform, Branding]:
    return {
        Platform.WEOKTO: Branding(
            key="weokto",
            name="WEOKTO",
            tagline="Join a guild. Grow together. Earn on every referral.",
            accent="#6d28d9",
            accent_dark="#4c1d95",
            base_url=settings.weokto_base_url,
            cookie_name="weokto_session",
        ),
        Platform.STAM: Branding(
            key="stam",
            name="STAM",
            tagline="Communities, courses and live chat for people who build.",
            accent="#0f766e",
            accent_dark="#134e4a",
            base_url=settings.stam_base_url,
            cookie_name="stam_session",
        ),
    }


def branding(platform: Platform, settings: Settings | None = None) -> Branding:
    return _branding(settings or get_settings())[platform]


def is_local_host(host_header: str) -> bool:
    name = hostname(host_header)
    return name in ("localhost", "127.0.0.1", "[::1]") or name.endswith(".localhost")
