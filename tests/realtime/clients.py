"""Socket.IO test clients: sign in over HTTP like a browser, then connect with the cookie."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import socketio

from tests.fixtures import code_of


async def sign_in(base: str, email: str, read_mail) -> str:
    async with httpx.AsyncClient(base_url=base) as http:
        await http.get("/healthz")
        headers = {"x-csrftoken": http.cookies["csrftoken"]}
        res = await http.post("/api/auth/magic-link/send", json={"email": email}, headers=headers)
        assert res.status_code == 202
        code = code_of(await read_mail(email))
        res = await http.post(
            "/api/auth/magic-link/verify-otp", json={"email": email, "otp": code}, headers=headers
        )
        assert res.status_code == 200, res.text
        return "; ".join(f"{k}={v}" for k, v in http.cookies.items())


async def connect(
    base: str, cookie: str, origin: str | None = None, transports: list[str] | None = None
) -> socketio.AsyncClient:
    client = socketio.AsyncClient(reconnection=False)
    headers = {"Cookie": cookie, "Origin": origin or base}
    await client.connect(
        base, headers=headers, transports=transports or ["websocket"], wait_timeout=10
    )
    return client


def _presence_items(name: str, data: Any) -> list[dict[str, Any]]:
    if name == "presence":
        return [data]
    if name == "presence_batch":
        return [
            {"guild_id": data["guild_id"], "user_id": u, "status": s}
            for s in ("online", "offline")
            for u in data[s]
        ]
    return []


class Inbox:
    """Collects server events of a client, with a wait for a condition."""

    def __init__(self, client: socketio.AsyncClient, *events: str) -> None:
        self.items: list[tuple[str, Any]] = []
        self._changed = asyncio.Event()
        names = set(events) | ({"presence_batch"} if "presence" in events else set())
        for name in names:
            client.on(name, self._make(name))

    def _make(self, name: str):
        async def handler(data: Any) -> None:
            self.items.append((name, data))
            self._changed.set()

        return handler

    def of(self, name: str) -> list[Any]:
        if name == "presence":  # batched changes count as single ones, in order
            return [p for n, d in self.items for p in _presence_items(n, d)]
        return [d for n, d in self.items if n == name]

    async def wait(self, predicate, timeout: float = 10.0) -> None:
        async def loop() -> None:
            while not predicate(self):
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(loop(), timeout)
