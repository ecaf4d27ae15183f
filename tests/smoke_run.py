"""Smoke test of `make run` in embedded mode: ready, sign in by emailed code, Ctrl-C, no orphans.

Run by .ci/run (not collected by pytest): python tests/smoke_run.py [--port 8765] [--timeout 180]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psutil

from devtools.procs import ROOT, http_status, tail, wait_until

# A fresh address each run: mail caught by earlier runs must not answer for this one.
EMAIL = f"smoke-{uuid.uuid4().hex[:10]}@example.com"
# A fresh data folder each run checks the cold path a newcomer takes (initdb, migrations, seed).
DATA_DIR = Path(os.environ.get("SMOKE_DATA_DIR") or tempfile.mkdtemp(prefix="smoke-data-"))
OTP = re.compile(r"\b(\d{6})\b")


class SmokeError(Exception):
    pass


def start_make_run(port: int, log_path: Path) -> subprocess.Popen[bytes]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SMTP_PORT")
    }
    env.update(PORT=str(port), NO_COLOR="1", DATA_DIR=str(DATA_DIR))
    with open(log_path, "wb") as log:
        # Own process group, so SIGINT to the group is exactly what Ctrl-C in a terminal does.
        return subprocess.Popen(
            ["make", "run"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def ours(make: subprocess.Popen[bytes]) -> list[psutil.Process]:
    """Every process the run started: its descendants plus the embedded postmaster and backends.

    pg_ctl daemonizes PostgreSQL, so it is found through DATA_DIR/pg/postmaster.pid instead.
    """
    procs = psutil.Process(make.pid).children(recursive=True)
    try:
        postmaster = psutil.Process(
            int((DATA_DIR / "pg" / "postmaster.pid").read_text().split()[0])
        )
        procs += [postmaster, *postmaster.children(recursive=True)]
    except (OSError, ValueError, IndexError, psutil.Error):
        pass
    return procs


def alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def sign_in(base: str, read_timeout: float = 30.0) -> str:
    with httpx.Client(base_url=base, timeout=10) as client:
        client.get("/healthz").raise_for_status()
        token = client.cookies.get("csrftoken")
        if not token:
            raise SmokeError(f"no csrftoken cookie from /healthz (cookies: {dict(client.cookies)})")
        headers = {"x-csrftoken": token}
        sent = client.post("/api/auth/magic-link/send", json={"email": EMAIL}, headers=headers)
        expect(sent, 202, "magic-link/send")
        otp = wait_for_code(client, read_timeout)
        verified = client.post(
            "/api/auth/magic-link/verify-otp", json={"email": EMAIL, "otp": otp}, headers=headers
        )
        expect(verified, 200, "magic-link/verify-otp")
        if "redirect" not in verified.json():
            raise SmokeError(f"verify-otp answered without 'redirect': {verified.text[:300]}")
        me = client.get("/api/auth/me")
        expect(me, 200, "auth/me")
        if me.json().get("email") != EMAIL:
            raise SmokeError(f"/api/auth/me is not {EMAIL}: {me.text[:300]}")
        return otp


def expect(response: httpx.Response, status: int, what: str) -> None:
    if response.status_code != status:
        raise SmokeError(
            f"{what}: expected {status}, got {response.status_code}: {response.text[:500]}"
        )


def wait_for_code(client: httpx.Client, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get("/dev/mail.json")
        expect(response, 200, "dev/mail.json")
        for mail in response.json():  # newest first
            if EMAIL in mail.get("to", []):
                match = OTP.search(mail.get("text", ""))
                if not match:
                    raise SmokeError(
                        f"no 6-digit code in the mail text: {mail.get('text', '')[:300]!r}"
                    )
                return match.group(1)
        time.sleep(0.25)
    raise SmokeError(f"no mail to {EMAIL} within {timeout:.0f}s")


def stop_and_check(
    make: subprocess.Popen[bytes], tracked: list[psutil.Process], timeout: float = 30.0
) -> float:
    started = time.monotonic()
    os.killpg(make.pid, signal.SIGINT)
    try:
        make.wait(timeout=timeout)
        wait_until(
            lambda: not any(alive(p) for p in tracked), 15, "all processes of the run to exit"
        )
    except (subprocess.TimeoutExpired, TimeoutError):
        left = [f"{p.pid} {' '.join(p.cmdline())[:120]}" for p in tracked if alive(p)]
        for proc in tracked:  # do not leave them to the next CI step
            if alive(proc):
                proc.kill()
        raise SmokeError("processes left after Ctrl-C:\n  " + "\n  ".join(left)) from None
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("SMOKE_PORT", "8765")))
    parser.add_argument("--timeout", type=float, default=180.0)
    args = parser.parse_args()
    log_path = Path(tempfile.mkstemp(prefix="smoke-run-", suffix=".log")[1])
    base = f"http://127.0.0.1:{args.port}"
    launched = time.monotonic()
    make = start_make_run(args.port, log_path)
    tracked: list[psutil.Process] = []
    try:
        wait_until(
            lambda: http_status(f"{base}/readyz") == 200,
            args.timeout,
            "/readyz",
            alive=lambda: make.poll() is None,
            interval=0.5,
        )
        ready_s = time.monotonic() - launched
        tracked = ours(make)
        sign_in(base)
        stop_s = stop_and_check(make, tracked)
    except (SmokeError, RuntimeError, TimeoutError, httpx.HTTPError) as err:
        print(
            f"smoke: FAILED: {err}\n--- make run output (tail):\n{tail(log_path, 80)}",
            file=sys.stderr,
        )
        if make.poll() is None:
            stop_and_check_quietly(make, tracked or ours(make))
        return 1
    reported = re.search(r"\| ready in ([\d.]+)s", log_path.read_text(errors="replace"))
    print(
        f"smoke: OK: ready after {ready_s:.1f}s (run command says {reported.group(1) if reported else '?'}s), "
        f"signed in as {EMAIL}, stopped cleanly in {stop_s:.1f}s, {len(tracked)} processes checked"
    )
    return 0


def stop_and_check_quietly(make: subprocess.Popen[bytes], tracked: list[psutil.Process]) -> None:
    try:
        stop_and_check(make, tracked)
    except SmokeError as err:
        print(f"smoke: {err}", file=sys.stderr)


def run_and_clean() -> int:
    try:
        return main()
    finally:
        if not os.environ.get("SMOKE_DATA_DIR"):
            shutil.rmtree(DATA_DIR, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(run_and_clean())
