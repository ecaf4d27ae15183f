"""Command line: `python -m devtools.stripe_emulator --port 12111 [--webhook-url URL ...]`."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

import uvicorn

from devtools.procs import listen_socket
from devtools.stripe_emulator.app import EmulatorConfig, create_app
from devtools.stripe_emulator.webhooks import WebhookConfig


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ
    parser = argparse.ArgumentParser(prog="python -m devtools.stripe_emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(env.get("STRIPE_EMULATOR_PORT", "12111")))
    parser.add_argument(
        "--public-url", help="base URL browsers use to reach this emulator (checkout pages)"
    )
    parser.add_argument("--webhook-url", default=env.get("STRIPE_WEBHOOK_URL"))
    parser.add_argument(
        "--webhook-secret", default=env.get("STRIPE_WEBHOOK_SECRET") or "whsec_emulator"
    )
    parser.add_argument(
        "--data", type=Path, help="directory to persist state in (stripe-emulator.json)"
    )
    parser.add_argument("--webhook-attempts", type=int, default=8)
    parser.add_argument(
        "--webhook-backoff", type=float, default=0.5, help="first retry delay in seconds (doubles)"
    )
    parser.add_argument("--chaos-duplicate", action="store_true", help="deliver every event twice")
    parser.add_argument(
        "--chaos-shuffle", action="store_true", help="shuffle event order within a short window"
    )
    parser.add_argument("--log-level", default="warning")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    # The app accepts a comma-separated list of secrets (rotation); the emulator signs with the first.
    secret = args.webhook_secret.split(",")[0].strip()
    webhooks = WebhookConfig(
        url=args.webhook_url or None,
        secret=secret,
        max_attempts=args.webhook_attempts,
        backoff=args.webhook_backoff,
        duplicate=args.chaos_duplicate,
        shuffle=args.chaos_shuffle,
    )
    public_url = args.public_url or f"http://{args.host}:{args.port}"
    app = create_app(EmulatorConfig(public_url=public_url, data_dir=args.data, webhooks=webhooks))
    print(
        f"stripe emulator on {public_url} (api base for the stripe library), "
        f"webhooks -> {webhooks.url or 'nowhere'}",
        flush=True,
    )
    config = uvicorn.Config(
        app, host=args.host, port=args.port, log_level=args.log_level, lifespan="on"
    )
    # Under `make run` the port was bound (and held) when it was chosen: serve on that socket.
    held = listen_socket("STRIPE_LISTEN_FD", args.port, os.environ)
    uvicorn.Server(config).run(sockets=[held] if held is not None else None)


if __name__ == "__main__":
    main()
