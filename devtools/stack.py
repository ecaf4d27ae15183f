"""What the whole local stack needs, shared by `make run` and the test harness: env, Procfile, steps."""

from __future__ import annotations

import sys
from collections.abc import Mapping

from devtools.embedded import Services
from devtools.procs import ROOT, path_with_venv, venv_bin
from devtools.supervisor import ProcfileEntry, expand, parse_procfile

PROCFILE = ROOT / "Procfile"


def stack_env(
    base: Mapping[str, str],
    services: Services,
    *,
    port: int,
    smtp_port: int,
    app_env: str,
    stripe_port: int | None = None,
) -> dict[str, str]:
    """The environment every process of the stack reads (see core/settings.py)."""
    env = dict(base)
    env.update(
        APP_ENV=app_env,
        DATABASE_URL=services.database_url,
        REDIS_URL=services.redis_url,
        PORT=str(port),
        SMTP_PORT=str(smtp_port),
        SMTP_URL=f"smtp://127.0.0.1:{smtp_port}",
        PICCOLO_CONF="db.piccolo_conf",
        PYTHONUNBUFFERED="1",
        PATH=path_with_venv(base),
    )
    # Explicit base URLs win (a tunnel, a LAN name); the defaults follow the chosen port.
    env.setdefault("WEOKTO_BASE_URL", f"http://localhost:{port}")
    env.setdefault("STAM_BASE_URL", f"http://stam.localhost:{port}")
    env.setdefault("LOG_JSON", "0")
    env.setdefault("DATA_DIR", str(ROOT / ".data"))
    if stripe_port is not None and not env.get("STRIPE_API_BASE") and not env.get("STRIPE_API_KEY"):
        # No Stripe configured: the app talks to the local emulator, which signs its webhooks
        # with the same secret the app verifies (a STRIPE_WEBHOOK_SECRET given is kept: the
        # emulator is started with it).
        env["STRIPE_PORT"] = str(stripe_port)
        env["STRIPE_API_BASE"] = f"http://127.0.0.1:{stripe_port}"
        env["STRIPE_API_KEY"] = "sk_test_local_emulator"
        if not env.get("STRIPE_WEBHOOK_SECRET"):
            env["STRIPE_WEBHOOK_SECRET"] = "whsec_local_emulator"
    env.setdefault("STRIPE_PORT", "0")
    return env


def migrate_argv() -> list[str]:
    return [venv_bin("piccolo"), "migrations", "forwards", "all"]


def seed_argv() -> list[str]:
    return [sys.executable, "-m", "devtools.seed"]


def procfile_entries() -> list[ProcfileEntry]:
    return parse_procfile(PROCFILE.read_text())


def procfile_argv(name: str, env: Mapping[str, str]) -> list[str]:
    """One Procfile line as argv, so the test harness runs exactly what `make run` runs."""
    for entry in procfile_entries():
        if entry.name == name:
            return expand(entry.command, env)
    raise KeyError(f"no {name!r} entry in {PROCFILE}")
