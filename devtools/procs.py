"""Process plumbing shared by the run command and the test harness: ports, waits, process groups."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]


def venv_bin(name: str) -> str:
    """Path of a console script installed next to the running interpreter (the project venv)."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def path_with_venv(environ: Mapping[str, str]) -> str:
    # Procfile lines say `celery`, `uvicorn`, `python`: they must resolve to this venv's copies.
    bindir = str(Path(sys.executable).parent)
    return os.pathsep.join([bindir, environ.get("PATH", os.defpath)])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Same option uvicorn/aiosmtpd use, so a TIME_WAIT socket from the last run is not "busy".
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def ephemeral_ports() -> tuple[int, int]:
    """The range the kernel takes source ports of outgoing connections from (and bind(0) too)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


FREE_PORTS_FROM = 20000


def free_port(host: str = "127.0.0.1") -> int:
    """A port free right now, below the ephemeral range: bind(0) would give one the kernel may
    hand out meanwhile as the source port of any outgoing connection (a database client's),
    which made a server's bind fail. Still only a hint (another run may choose it too): a server
    we start ourselves should get a `reserve_port` socket instead."""
    low = ephemeral_ports()[0]
    if low - FREE_PORTS_FROM >= 1000:
        for port in random.sample(range(FREE_PORTS_FROM, low), 50):
            if port_is_free(port, host):
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def reserve_port(port: int = 0, host: str = "127.0.0.1") -> socket.socket | None:
    """A listening socket on `port` (0: any free one), or None when it is taken. Holding it
    keeps the port ours until the server that inherits it (see `listen_socket`) serves on it:
    nothing can bind it in between, and a restarted server gets the very same socket."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Listening, SO_REUSEADDR only skips a TIME_WAIT of the last run: it does not let a
    # second socket bind the port while this one listens.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        return None
    sock.set_inheritable(True)
    return sock


def listen_socket(fd_var: str, port: int, environ: Mapping[str, str]) -> socket.socket | None:
    """The inherited listening socket named by `fd_var` when it is bound to `port`, else None
    (the server then binds the port itself, as it does when run on its own)."""
    value = environ.get(fd_var, "")
    if not value.isdigit():
        return None
    try:
        sock = socket.socket(fileno=int(value))
    except OSError:
        return None  # not an open socket here (the variable leaked from another process)
    if sock.getsockname()[1] != port:
        sock.detach()
        return None
    sock.setblocking(False)
    return sock


def tcp_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_status(url: str, timeout: float = 2.0) -> int | None:
    """Status code of a GET, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)
    except (OSError, ValueError):
        return None


def wait_until(
    check: Callable[[], bool],
    timeout: float,
    what: str,
    alive: Callable[[], bool] | None = None,
    interval: float = 0.1,
) -> None:
    """Poll `check` until true; give up early when `alive` says the process behind it died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if alive is not None and not alive():
            raise RuntimeError(f"{what}: the process exited before it was ready")
        time.sleep(interval)
    raise TimeoutError(f"{what}: not ready after {timeout:.0f}s")


def spawn(
    argv: Sequence[str],
    env: Mapping[str, str],
    stdout: IO[bytes] | int | None,
    cwd: Path = ROOT,
    pass_fds: Sequence[int] = (),
) -> subprocess.Popen[bytes]:
    # Own session = own process group: Ctrl-C in the terminal reaches only the supervisor, which
    # then stops each group in order, and killpg also reaches grandchildren (Celery pool, reloaders).
    return subprocess.Popen(
        list(argv),
        env=dict(env),
        cwd=str(cwd),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.STDOUT if stdout is not None else None,
        start_new_session=True,
        pass_fds=tuple(pass_fds),
    )


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def stop_groups(procs: Sequence[subprocess.Popen[bytes]], timeout: float = 10.0) -> None:
    """SIGTERM every process group, wait up to `timeout` for all of them together, then SIGKILL."""
    for proc in procs:
        signal_group(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in procs:
        _wait_group(proc, deadline)
    for proc in procs:
        if group_alive(proc.pid):
            signal_group(proc.pid, signal.SIGKILL)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def _wait_group(proc: subprocess.Popen[bytes], deadline: float) -> None:
    # The leader may exit before its children (a Celery worker's pool): wait for the whole group.
    while time.monotonic() < deadline:
        proc.poll()
        if proc.returncode is not None and not group_alive(proc.pid):
            return
        time.sleep(0.05)


def tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
