"""Session harness: the services and processes of the stack, resolved exactly like `make run`.

DATABASE_URL / REDIS_URL from the environment when set (used as is; the database is created if
missing), else embedded PostgreSQL and Redis under a throwaway directory, started once per run.
The environment is set in pytest_configure, before any test module imports server/db/tasks code,
because settings are cached and the Piccolo engine is built at import time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from devtools.embedded import resolve_services
from devtools.procs import ROOT, free_port
from devtools.stack import migrate_argv, procfile_argv, stack_env
from tests.harness import (
    ManagedProcess,
    Stack,
    celery_ready,
    clear_redis,
    http_ready,
    port_ready,
    resolve_localhost_subdomains,
    truncate_tables,
    wait_for_mail,
    worker_node_name,
)

STACK_KEY = pytest.StashKey[Stack]()
APP_MODULES = (
    "db.piccolo_conf",
    "core.settings",
    "server.app",
    "tasks.app",
    "realtime.sio",
    "server.sockets",
)
TEST_SECRET = "test-secret-key-not-for-production-0123456789abcdef"
SLOT_LOCK_KEY = pytest.StashKey[Any]()
# Concurrent test runs on one machine (two terminals, a benchmark beside the tests) would share
# the given database and Redis and truncate each other's rows or eat each other's Celery tasks:
# each run holds a slot, and slot N > 0 gets database `<name>_N` and Redis database index + N.
SLOTS = 7


def claim_slot() -> tuple[int, Any]:
    import fcntl

    for slot in range(SLOTS):
        handle = open(Path(tempfile.gettempdir()) / f"weokto-test-slot-{slot}.lock", "w")  # noqa: SIM115
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        return slot, handle  # held until the process exits
    raise pytest.UsageError(f"more than {SLOTS} test runs at once on this machine")


def slot_environ(environ: Any, slot: int) -> dict[str, str]:
    """The service URLs of a slot (slot 0: as given)."""
    from devtools.embedded import database_name, with_database

    out: dict[str, str] = {k: environ[k] for k in ("DATABASE_URL", "REDIS_URL") if environ.get(k)}
    if slot == 0:
        return out
    if "DATABASE_URL" in out:
        url = out["DATABASE_URL"]
        out["DATABASE_URL"] = with_database(url, f"{database_name(url)}_{slot}")
    if "REDIS_URL" in out:
        base, _, index = out["REDIS_URL"].rpartition("/")
        if index.isdigit():
            out["REDIS_URL"] = f"{base}/{(int(index) + slot) % 16}"
    return out


def pytest_configure(config: pytest.Config) -> None:
    if config.option.help or config.option.version:
        return
    early = [name for name in APP_MODULES if name in sys.modules]
    if early:
        raise pytest.UsageError(f"imported before the test env was set: {early} (check plugins)")
    tmp = Path(tempfile.mkdtemp(prefix="weokto-test-"))
    slot, lock = claim_slot()
    config.stash[SLOT_LOCK_KEY] = lock
    given = slot_environ(os.environ, slot)
    os.environ.update(given)
    services = resolve_services(tmp, given, db_name="weokto_test", persist_redis=False)
    port, smtp_port = free_port(), free_port()
    env = stack_env(
        {**os.environ, "DATA_DIR": str(tmp)},
        services,
        port=port,
        smtp_port=smtp_port,
        app_env="test",
        stripe_port=free_port(),
    )
    env.update(
        SECRET_KEY=os.environ.get("SECRET_KEY") or TEST_SECRET,
        WEOKTO_BASE_URL=f"http://localhost:{port}",
        STAM_BASE_URL=f"http://stam.localhost:{port}",
        LOG_JSON="0",
    )
    os.environ.update(env)
    resolve_localhost_subdomains()
    config.stash[STACK_KEY] = Stack(
        tmp=tmp, services=services, env=env, port=port, smtp_port=smtp_port
    )
    # Shared fixtures load only now (not via pytest_plugins, which imports before this hook), so
    # they may import app code at module level.
    if (Path(__file__).parent / "fixtures.py").exists():
        config.pluginmanager.import_plugin("tests.fixtures")


def pytest_unconfigure(config: pytest.Config) -> None:
    stack = config.stash.get(STACK_KEY, None)
    if stack is None:
        return
    for process in stack.processes:  # fixtures normally did this already
        process.stop()
    stack.services.stop()
    shutil.rmtree(stack.tmp, ignore_errors=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    report = yield
    stack = item.config.stash.get(STACK_KEY, None)
    if report.failed and stack is not None:
        # Server-side tracebacks live in the subprocess logs: show them with the failure.
        for process in stack.processes:
            if process.proc is not None:
                report.sections.append((f"{process.name} log (tail)", process.log_tail(40)))
    return report


# --- session: services, schema, processes -----------------------------------------------------


@pytest.fixture(scope="session")
def stack(pytestconfig: pytest.Config) -> Stack:
    return pytestconfig.stash[STACK_KEY]


@pytest.fixture(scope="session", autouse=True)
def migrated(stack: Stack) -> None:
    result = subprocess.run(
        migrate_argv(), env=stack.env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"migrations failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def db(migrated: None) -> AsyncIterator[Any]:
    from db.engine import close_pool, engine, open_pool

    await open_pool()
    yield engine()
    await close_pool()


def _managed(
    stack: Stack,
    name: str,
    argv: list[str],
    ready: Callable[[], bool],
    env: dict[str, str] | None = None,
) -> ManagedProcess:
    process = ManagedProcess(
        name=name,
        argv=argv,
        env=env or stack.env,
        log_path=stack.tmp / "logs" / f"{name}.log",
        ready=ready,
    )
    stack.processes.append(process)
    return process


@pytest.fixture(scope="session")
def mailcatcher(stack: Stack) -> Iterator[ManagedProcess]:
    process = _managed(stack, "mail", procfile_argv("mail", stack.env), port_ready(stack.smtp_port))
    yield process.start()
    process.stop()


@pytest.fixture(scope="session")
def celery_worker(stack: Stack, migrated: None, stripe_emulator: str) -> Iterator[ManagedProcess]:
    """The real worker; `.stop()` / `.start()` to take it down and back (waits for a ping)."""
    node = worker_node_name()
    argv = [*procfile_argv("worker", stack.env), "-n", node]
    process = _managed(stack, "worker", argv, celery_ready(node))
    yield process.start()
    process.stop()


@pytest.fixture
def stop_worker(celery_worker: ManagedProcess) -> Iterator[ManagedProcess]:
    """The worker is down during the test and back up after it."""
    celery_worker.stop()
    yield celery_worker
    celery_worker.start()


@dataclass(frozen=True)
class LiveServer:
    port: int
    process: ManagedProcess

    @property
    def weokto_url(self) -> str:
        return f"http://localhost:{self.port}"

    @property
    def stam_url(self) -> str:
        return f"http://stam.localhost:{self.port}"


@pytest.fixture(scope="session")
def live_server(
    stack: Stack, celery_worker: ManagedProcess, mailcatcher: ManagedProcess
) -> Iterator[LiveServer]:
    healthz = f"http://127.0.0.1:{stack.port}/healthz"
    process = _managed(stack, "web", procfile_argv("web", stack.env), http_ready(healthz))
    yield LiveServer(port=stack.port, process=process.start())
    process.stop()


@pytest.fixture(scope="session")
def stripe_emulator(stack: Stack) -> Iterator[str]:
    """The local Stripe emulator the app and the worker talk to (its base URL)."""
    port = int(stack.env["STRIPE_PORT"])
    process = _managed(
        stack,
        "stripe",
        procfile_argv("stripe", stack.env),
        http_ready(f"http://127.0.0.1:{port}/_emulator/health"),
    )
    process.start()
    yield stack.env["STRIPE_API_BASE"]
    process.stop()


@pytest.fixture(scope="session")
def second_server(stack: Stack, live_server: LiveServer) -> Iterator[LiveServer]:
    """Another web process on its own port, sharing PostgreSQL and Redis (scale-out)."""
    port = free_port()
    env = {**stack.env, "PORT": str(port)}
    healthz = f"http://127.0.0.1:{port}/healthz"
    process = _managed(stack, "web2", procfile_argv("web", env), http_ready(healthz), env=env)
    yield LiveServer(port=port, process=process.start())
    process.stop()


async def reset_stripe_emulator(env: dict[str, str]) -> None:
    """Ids restart with the tables, so Stripe objects of earlier tests (whose metadata names
    those ids) must go too, or a renewal of theirs would land on this test's rows."""
    import httpx

    if env.get("STRIPE_PORT", "0") == "0":
        return
    try:
        async with httpx.AsyncClient(base_url=env["STRIPE_API_BASE"], timeout=5) as emu:
            await emu.post("/_emulator/reset")
    except httpx.TransportError:
        pass  # not started in this session


# --- per test ---------------------------------------------------------------------------------


@cache
def table_names() -> tuple[str, ...]:
    from piccolo.apps.migrations.tables import Migration

    from db.piccolo_conf import APP_REGISTRY

    tables = {
        table._meta.get_formatted_tablename()
        for app in APP_REGISTRY.app_configs.values()
        for table in app.table_classes
    }
    tables.discard(Migration._meta.get_formatted_tablename())
    return tuple(sorted(tables))


@pytest_asyncio.fixture(autouse=True, loop_scope="session")
async def clean(stack: Stack, migrated: None) -> None:
    """Every test starts with empty tables (ids from 1) and an empty Redis db."""
    await truncate_tables(stack.env["DATABASE_URL"], table_names())
    await clear_redis(stack.env["REDIS_URL"])
    await reset_stripe_emulator(stack.env)


@pytest.fixture
def read_mail(
    stack: Stack, mailcatcher: ManagedProcess
) -> Callable[..., Awaitable[dict[str, Any]]]:
    """`await read_mail(email, timeout=15)`: the newest caught message to that address.

    A message already returned in this test is not returned again, so "send, read, send, read"
    waits for the second mail instead of racing the worker and getting the first one twice.
    """
    returned: set[str] = set()

    async def read(to_email: str, timeout: float = 15.0) -> dict[str, Any]:
        raw, mail = await wait_for_mail(stack.env["REDIS_URL"], to_email, timeout, exclude=returned)
        returned.add(raw)
        return mail

    return read
