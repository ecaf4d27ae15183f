"""A small Procfile supervisor: one process group per entry, prefixed output, and a child that
dies is started again after a backoff (1 s, 2 s, 4 s ... up to 30 s; back to 1 s once it has
run for a minute), so one crash does not stop the whole local stack.

Written here rather than using honcho so we control the shutdown order and the process-group
kill (honcho leaves Celery pool children behind on some signals), the restarts, and can
interleave readiness checks with child monitoring.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from devtools.procs import ROOT, spawn, stop_groups

COLORS = ("36", "33", "32", "35", "34", "91", "96", "93")
_VAR = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


@dataclass(frozen=True)
class ProcfileEntry:
    name: str
    command: str


def parse_procfile(text: str) -> list[ProcfileEntry]:
    entries = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, command = line.partition(":")
        if not sep or not name.strip() or not command.strip():
            raise ValueError(f"bad Procfile line: {line!r}")
        entries.append(ProcfileEntry(name=name.strip(), command=command.strip()))
    return entries


def expand(command: str, env: Mapping[str, str]) -> list[str]:
    """`$VAR`/`${VAR}` from env, then shell-like splitting; no shell, so signals reach the program."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in env:
            raise KeyError(f"Procfile uses ${name}, which is not set")
        return env[name]

    return shlex.split(_VAR.sub(value, command))


@dataclass(frozen=True)
class Backoff:
    first: float = 1.0
    most: float = 30.0
    # A child that ran this long before dying is not crash-looping: its next delay is `first`.
    healthy_after: float = 60.0

    def delay(self, crashes: int) -> float:
        return float(min(self.most, self.first * 2 ** max(0, crashes - 1)))


@dataclass
class _Life:
    """The restart state of one Procfile entry."""

    entry: ProcfileEntry
    started: float = 0.0
    crashes: int = 0  # in a row, each within `healthy_after` of its start
    restart_at: float | None = None  # set while dead, waiting for its backoff
    pass_fds: tuple[int, ...] = field(default=())


class Supervisor:
    def __init__(
        self,
        env: Mapping[str, str],
        out: TextIO = sys.stdout,
        color: bool | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.env = dict(env)
        self.out = out
        self.color = out.isatty() and "NO_COLOR" not in env if color is None else color
        self.width = 7  # "migrate": keeps the columns still from the first line on
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.backoff = backoff or Backoff()
        # Listening sockets a child inherits (by entry name): see procs.reserve_port.
        self.pass_fds: dict[str, tuple[int, ...]] = {}
        self._lives: dict[str, _Life] = {}
        self._lock = threading.Lock()
        self._readers: list[threading.Thread] = []
        self._colors: dict[str, str] = {}

    # output ---------------------------------------------------------------------------------

    def say(self, name: str, text: str) -> None:
        prefix = f"{name.ljust(self.width)} |"
        if self.color:
            code = self._colors.setdefault(name, COLORS[len(self._colors) % len(COLORS)])
            prefix = f"\033[{code}m{prefix}\033[0m"
        with self._lock:
            for line in text.splitlines() or [""]:
                self.out.write(f"{prefix} {line}\n")
            self.out.flush()

    def _pump(self, name: str, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            self.say(name, raw.decode(errors="replace").rstrip("\r\n"))
        proc.stdout.close()

    def _launch(
        self, name: str, argv: Sequence[str], pass_fds: tuple[int, ...] = ()
    ) -> subprocess.Popen[bytes]:
        self.width = max(self.width, len(name))
        proc = spawn(argv, self.env, stdout=subprocess.PIPE, cwd=ROOT, pass_fds=pass_fds)
        reader = threading.Thread(
            target=self._pump, args=(name, proc), daemon=True, name=f"pump-{name}"
        )
        reader.start()
        self._readers.append(reader)
        return proc

    # one-shot steps (migrations, seed) ------------------------------------------------------

    def run_step(
        self, name: str, argv: Sequence[str], stop: threading.Event, timeout: float = 300
    ) -> int:
        """Run a command to completion with prefixed output; killed early if `stop` is set."""
        proc = self._launch(name, argv)
        waited = 0.0
        while proc.poll() is None:
            if stop.wait(0.1) or waited > timeout:
                stop_groups([proc], timeout=5)
                return proc.returncode if proc.returncode is not None else -1
            waited += 0.1
        self._readers[-1].join(timeout=2)
        return proc.returncode

    # long-running children ------------------------------------------------------------------

    def start(self, entries: Sequence[ProcfileEntry]) -> None:
        self.width = max([self.width, *(len(e.name) for e in entries)])
        for entry in entries:
            self._lives[entry.name] = _Life(entry, pass_fds=self.pass_fds.get(entry.name, ()))
            self._spawn(entry.name)

    def _spawn(self, name: str) -> None:
        life = self._lives[name]
        argv = expand(life.entry.command, self.env)
        self.children[name] = self._launch(name, argv, life.pass_fds)
        life.started, life.restart_at = time.monotonic(), None
        self.say("run", f"started {name} (pid {self.children[name].pid})")

    def exited(self) -> tuple[str, int] | None:
        """The first child found dead (and not already waiting for its restart), else None."""
        for name, proc in self.children.items():
            code = proc.poll()
            if code is not None and self._lives[name].restart_at is None:
                return name, code
        return None

    def schedule_restart(self, name: str) -> float:
        """Start `name` again after its backoff (see `restart_due`); returns the delay."""
        life, now = self._lives[name], time.monotonic()
        healthy = now - life.started >= self.backoff.healthy_after
        life.crashes = 1 if healthy else life.crashes + 1
        delay = self.backoff.delay(life.crashes)
        life.restart_at = now + delay
        # What is left of the dead child's group (a Celery pool child) goes before the new one.
        stop_groups([self.children[name]], timeout=2)
        return delay

    def restart_due(self) -> list[str]:
        """Start again the children whose backoff is over; their names."""
        now, due = time.monotonic(), []
        for name, life in self._lives.items():
            if life.restart_at is not None and now >= life.restart_at:
                self._spawn(name)
                due.append(name)
        return due

    def stop(self, timeout: float = 10.0) -> None:
        # All groups get SIGTERM at once and share one deadline, so Ctrl-C takes <= timeout.
        stop_groups(list(self.children.values()), timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=2)
