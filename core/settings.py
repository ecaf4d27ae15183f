"""Typed settings read from the environment once per process."""

from __future__ import annotations

import os
from functools import lru_cache
from urllib.parse import urlsplit

import msgspec

DEV_SECRET = "dev-only-secret-change-me-in-production-0123456789"


class Settings(msgspec.Struct, frozen=True):
    env: str
    database_url: str
    redis_url: str
    secret_key: str
    port: int
    weokto_base_url: str
    stam_base_url: str
    stam_hosts: tuple[str, ...]
    smtp_url: str
    mail_from: str
    extra_origins: tuple[str, ...]
    log_json: bool
    stripe_api_key: str
    # Empty: real Stripe. Set: the local emulator (or any Stripe-compatible base URL).
    stripe_api_base: str
    # Several secrets while a rotation is in progress; any of them verifies a webhook.
    stripe_webhook_secrets: tuple[str, ...]
    # Language of each platform's pages and emails when neither the reader's saved choice,
    # the `lang` cookie nor Accept-Language names a supported one (server/i18n.py).
    weokto_locale: str = "fr"
    stam_locale: str = "fr"
    # Request bodies past this size get a 413 before anything reads them (MAX_BODY_BYTES), and
    # JSON nested deeper than MAX_JSON_DEPTH a 400 before any decoder recurses into it.
    max_body_bytes: int = 1024 * 1024
    max_json_depth: int = 64
    # /schema and /metrics: public (OPS_PUBLIC=1, the default outside production), else open to
    # a signed-in admin or owner, or to `Authorization: Bearer $OPS_TOKEN` (a metrics scraper).
    ops_public: bool = True
    ops_token: str = ""
    # Uploaded and packaged media (MEDIA_DIR, default DATA_DIR/media); uploads above
    # MEDIA_MAX_UPLOAD_BYTES (default 2 GiB) are refused; attachments above
    # MEDIA_MAX_ATTACHMENT_BYTES (default 50 MiB). Playback URLs are signed for MEDIA_URL_TTL_S.
    media_dir: str = ".data/media"
    media_max_upload_bytes: int = 2 * 1024**3
    media_max_attachment_bytes: int = 50 * 1024**2
    media_url_ttl_s: int = 300
    # Bunny Stream (production video): used when all three are set; else local ffmpeg + MEDIA_DIR.
    # BUNNY_TOKEN_KEY signs playback URLs (the library's token authentication key).
    bunny_library_id: str = ""
    bunny_api_key: str = ""
    bunny_cdn_hostname: str = ""
    bunny_token_key: str = ""
    bunny_api_base: str = "https://video.bunnycdn.com"

    @property
    def uses_bunny(self) -> bool:
        return bool(self.bunny_library_id and self.bunny_api_key and self.bunny_cdn_hostname)

    @property
    def is_dev(self) -> bool:
        return self.env in ("dev", "test")

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def allowed_origins(self) -> tuple[str, ...]:
        return (_origin(self.weokto_base_url), _origin(self.stam_base_url), *self.extra_origins)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip().lower() for v in value.split(",") if v.strip())


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if environ is None else environ)
    app_env = env.get("APP_ENV", "dev")
    port = int(env.get("PORT", "8000"))
    secret = env.get("SECRET_KEY", "")
    if not secret:
        if app_env == "production":
            raise RuntimeError("SECRET_KEY must be set in production")
        secret = DEV_SECRET
    return Settings(
        env=app_env,
        database_url=env.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/weokto"),
        redis_url=env.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        secret_key=secret,
        port=port,
        weokto_base_url=env.get("WEOKTO_BASE_URL", f"http://localhost:{port}").rstrip("/"),
        stam_base_url=env.get("STAM_BASE_URL", f"http://stam.localhost:{port}").rstrip("/"),
        stam_hosts=_csv(env.get("STAM_HOSTS", "stam.localhost")),
        smtp_url=env.get("SMTP_URL", "smtp://127.0.0.1:1025"),
        mail_from=env.get("MAIL_FROM", "no-reply@weokto.local"),
        extra_origins=_csv(env.get("EXTRA_ORIGINS", "")),
        log_json=env.get("LOG_JSON", "1") != "0",
        stripe_api_key=env.get("STRIPE_API_KEY", "sk_test_local_emulator"),
        stripe_api_base=env.get("STRIPE_API_BASE", "").rstrip("/"),
        stripe_webhook_secrets=tuple(
            v.strip()
            for v in env.get("STRIPE_WEBHOOK_SECRET", "whsec_local_emulator").split(",")
            if v.strip()
        ),
        weokto_locale=env.get("WEOKTO_LOCALE", "fr").strip().lower() or "fr",
        stam_locale=env.get("STAM_LOCALE", "fr").strip().lower() or "fr",
        max_body_bytes=int(env.get("MAX_BODY_BYTES", str(1024 * 1024))),
        max_json_depth=int(env.get("MAX_JSON_DEPTH", "64")),
        ops_public=env.get("OPS_PUBLIC", "0" if app_env == "production" else "1") == "1",
        ops_token=env.get("OPS_TOKEN", "").strip(),
        media_dir=env.get("MEDIA_DIR") or os.path.join(env.get("DATA_DIR", ".data"), "media"),
        media_max_upload_bytes=int(env.get("MEDIA_MAX_UPLOAD_BYTES", str(2 * 1024**3))),
        media_max_attachment_bytes=int(env.get("MEDIA_MAX_ATTACHMENT_BYTES", str(50 * 1024**2))),
        media_url_ttl_s=int(env.get("MEDIA_URL_TTL_S", "300")),
        bunny_library_id=env.get("BUNNY_LIBRARY_ID", "").strip(),
        bunny_api_key=env.get("BUNNY_API_KEY", "").strip(),
        bunny_cdn_hostname=env.get("BUNNY_CDN_HOSTNAME", "").strip(),
        bunny_token_key=env.get("BUNNY_TOKEN_KEY", "").strip(),
        bunny_api_base=env.get("BUNNY_API_BASE", "https://video.bunnycdn.com").rstrip("/"),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
