"""A small Procfile supervisor: one process group per entry, prefixed output, all-or-nothing lifetime.

Written here rather than using honcho so we control the shutdown order and the process-group
kill (honcho leaves Celery pool children behind on some signals) and can interleave readiness
checks with child monitoring.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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


class Supervisor:
    def __init__(
        self, env: Mapping[str, str], out: TextIO = sys.stdout, color: bool | None = None
    ) -> None:
        self.env = dict(env)
        self.out = out
        self.color = out.isatty() and "NO_COLOR" not in env if color is None else color
        self.width = 7  # "migrate": keeps the columns still from the first line on
        self.children: dict[str, subprocess.Popen[bytes]] = {}
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

    def _launch(self, name: str, argv: Sequence[str]) -> subprocess.Popen[bytes]:
        self.width = max(self.width, len(name))
        proc = spawn(argv, self.env, stdout=subprocess.PIPE, cwd=ROOT)
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
            self.children[entry.name] = self._launch(entry.name, expand(entry.command, self.env))
            self.say("run", f"started {entry.name} (pid {self.children[entry.name].pid})")

    def exited(self) -> tuple[str, int] | None:
        """The first child found dead, with its exit code, else None."""
        for name, proc in self.children.items():
            code = proc.poll()
            if code is not None:
                return name, code
        return None

    def stop(self, timeout: float = 10.0) -> None:
        # All groups get SIGTERM at once and share one deadline, so Ctrl-C takes <= timeout.
        stop_groups(list(self.children.values()), timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=2)
