"""`make run`: embedded services, migrations, seed, then every Procfile process until Ctrl-C.

PORT defaults to 8000; when PORT is not given and 8000 is busy the next free port up to 8099 is
used (and printed). An explicit PORT that is busy is an error: the user asked for that one.
Each chosen port is held (a listening socket) from the choice on, so a second run cannot take
it meanwhile: the mail catcher and the Stripe emulator inherit theirs and serve on it; the web
process binds its own, released just before it starts.

A child that dies is started again after a backoff (devtools/supervisor.py); only the web
process dying before it was ever ready stops the run (it cannot start: a port, a config error).
"""

from __future__ import annotations

import time

# Start of the clock for "ready in": taken before the heavier imports below.
LAUNCHED = time.time()

import fcntl
import os
import signal
import socket
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from types import FrameType
from typing import IO

from devtools.embedded import Services, resolve_services
from devtools.procs import ROOT, http_status, reserve_port
from devtools.stack import migrate_argv, procfile_entries, seed_argv, stack_env
from devtools.supervisor import Supervisor

READY_TIMEOUT = 180.0


class RunError(Exception):
    """A start-up problem the user can fix; printed without a traceback."""


# The listening socket a server of the Procfile inherits, by entry: (variable naming its fd).
INHERITED = {"mail": "SMTP_LISTEN_FD", "stripe": "STRIPE_LISTEN_FD"}


def choose_port(
    environ: Mapping[str, str], name: str, default: int, span: int = 100
) -> socket.socket:
    """The port, held: a listening socket bound to it, kept until its server takes it over."""
    if environ.get(name):
        port = int(environ[name])
        held = reserve_port(port)
        if held is None:
            raise RunError(
                f"{name}={port} is already in use; pick another, e.g. {name}={port + 1} make run"
            )
        return held
    for port in range(default, default + span):
        held = reserve_port(port)
        if held is not None:
            return held
    raise RunError(f"no free port in {default}-{default + span - 1}; set {name}")


def port_of(held: socket.socket) -> int:
    return int(held.getsockname()[1])


def acquire_lock(path: Path) -> IO[str]:
    # Two runs on one .data would share (and then stop) each other's PostgreSQL and Redis.
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        raise RunError(
            f"another `make run` (pid {handle.read().strip() or '?'}) is using {path.parent}"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def install_stop_handlers(stop: threading.Event) -> None:
    def handler(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def demo_accounts() -> list[tuple[str, str, str]]:
    try:
        from devtools.seed import DEMO_ACCOUNTS
    except Exception as exc:
        return [("?", f"(could not import devtools.seed.DEMO_ACCOUNTS: {exc})", "")]
    return [tuple(map(str, row)) for row in DEMO_ACCOUNTS]  # type: ignore[misc]


def banner(env: Mapping[str, str], seconds: float) -> str:
    weokto = env["WEOKTO_BASE_URL"]
    lines = [
        f"ready in {seconds:.1f}s",
        f"  WEOKTO  {weokto}",
        f"  STAM    {env['STAM_BASE_URL']}",
        f"  mail    {weokto}/dev/mail   (SMTP on 127.0.0.1:{env['SMTP_PORT']})",
        f"  stripe  {env.get('STRIPE_API_BASE') or 'real Stripe'}   (pay with 4242 4242 4242 4242)",
        "  demo accounts (sign in with the emailed code, read it on the mail page):",
        *(f"    {platform:<8} {email:<32} {role}" for platform, email, role in demo_accounts()),
        "  Ctrl-C stops everything.",
    ]
    return "\n".join(lines)


def start_stack(
    sup: Supervisor, stop: threading.Event, web_port: socket.socket | None = None
) -> bool:
    """Migrations and seed, then the Procfile; False when stopped or a step failed."""
    for name, argv in (("migrate", migrate_argv()), ("seed", seed_argv())):
        if stop.is_set():
            return False
        code = sup.run_step(name, argv, stop)
        if stop.is_set():
            return False
        if code != 0:
            raise RunError(f"{name} failed (exit code {code}); see its output above")
    if web_port is not None:
        web_port.close()  # uvicorn binds it itself (its --fd would take it for a Unix socket)
    sup.start(procfile_entries())
    return True


def watch(sup: Supervisor, stop: threading.Event, launched: float) -> int:
    """Poll /readyz until ready (printing the banner), restart a child that dies, and wait
    for Ctrl-C. The web process dying before it was ever ready stops everything."""
    readyz = f"http://127.0.0.1:{sup.env['PORT']}/readyz"
    ready = warned = False
    last_status: int | None = None
    while not stop.wait(0.25):
        while (dead := sup.exited()) is not None:
            name, code = dead
            if name == "web" and not ready:
                sup.say("run", f"web exited at start (code {code}): stopping everything")
                return 1
            delay = sup.schedule_restart(name)
            sup.say("run", f"{name} exited unexpectedly (code {code}): restarting in {delay:.0f}s")
        sup.restart_due()
        if ready:
            continue
        last_status = http_status(readyz, timeout=1.0)
        if last_status == 200:
            ready = True
            sup.say("run", banner(sup.env, time.time() - launched))
        elif not warned and time.time() - launched > READY_TIMEOUT:
            warned = True
            sup.say(
                "run", f"WARNING: {readyz} still answers {last_status} after {READY_TIMEOUT:.0f}s"
            )
    return 0


def run(environ: Mapping[str, str]) -> int:
    launched = LAUNCHED
    stop = threading.Event()
    install_stop_handlers(stop)
    sup = Supervisor(environ)
    # DATA_DIR lets a benchmark or a second checkout use its own data (default: .data/).
    data_root = Path(environ.get("DATA_DIR") or ROOT / ".data").resolve()
    data_root.mkdir(parents=True, exist_ok=True)
    lock = acquire_lock(data_root / "run.lock")
    held = {
        "web": choose_port(environ, "PORT", 8000),
        "mail": choose_port(environ, "SMTP_PORT", 2525),
        "stripe": choose_port(environ, "STRIPE_PORT", 12111),
    }
    port, smtp_port, stripe_port = (port_of(held[k]) for k in ("web", "mail", "stripe"))
    if not environ.get("PORT") and port != 8000:
        sup.say("run", f"port 8000 is busy: using {port}")
    sup.pass_fds = {name: (held[name].fileno(),) for name in INHERITED}
    services: Services | None = None
    try:
        services = resolve_services(data_root, environ)
        what = "embedded " + "+".join(
            type(s).__name__.removeprefix("Embedded") for s in services.started
        )
        sup.say(
            "run",
            f"services ready in {services.startup_seconds:.1f}s ({what if services.started else 'from env'})",
        )
        sup.env = stack_env(
            {**environ, "DATA_DIR": str(data_root)},
            services,
            port=port,
            smtp_port=smtp_port,
            app_env=environ.get("APP_ENV", "dev"),
            stripe_port=stripe_port,
        )
        sup.env.update({var: str(held[name].fileno()) for name, var in INHERITED.items()})
        os.environ.update(sup.env)  # for the in-process import of devtools.seed (banner)
        if not start_stack(sup, stop, held["web"]):
            return 0
        return watch(sup, stop, launched)
    finally:
        sup.say("run", "stopping...")
        sup.stop()
        for sock in held.values():
            sock.close()
        if services is not None:
            services.stop()
        lock.close()
        sup.say("run", "stopped")


def main() -> None:
    os.chdir(ROOT)
    try:
        code = run(dict(os.environ))
    except RunError as err:
        print(f"run | ERROR: {err}", file=sys.stderr)
        code = 1
    sys.exit(code)


if __name__ == "__main__":
    main()
