"""Bounds on what a client sends, checked before anything decodes it: body size and JSON depth.

JSON decoders recurse once per nesting level (msgspec for request bodies, the json module for
Socket.IO packets): a body of a few thousand `[` makes them raise RecursionError, which was a
500 and a traceback on every JSON endpoint, with or without a session. Litestar's own body cap
(10 MB) is far above anything this API accepts, and it has no depth limit at all.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from litestar.datastructures import Headers
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.types import ASGIApp, HTTPRequestEvent, Receive, ReceiveMessage, Scope, Send

from core.settings import get_settings
from server.errors import ClientError

# A JSON string, escapes included (unrolled loop: linear, no backtracking).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = b"[]{}"
_NOT_BRACKETS = bytes(b for b in range(256) if b not in _BRACKETS)
_STEP = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1
_UNDECODED = ("multipart/", "application/x-www-form-urlencoded")


def too_large(max_bytes: int) -> HTTPException:
    # Litestar's own 413 (its detail is in our catalog; server.errors maps the code).
    return HTTPException(
        status_code=413, detail="Request Entity Too Large", extra={"max_bytes": max_bytes}
    )


def json_too_deep(data: bytes | str, max_depth: int) -> bool:
    """Whether JSON text nests arrays/objects deeper than `max_depth` (brackets in strings
    do not count). Cheap for ordinary bodies: few brackets means no scan at all."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if raw.count(b"[") + raw.count(b"{") <= max_depth:
        return False
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    # map/accumulate/max run in C: about 20 ns a bracket, a full 1 MiB body in ~20 ms.
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > max_depth


class _BufferedBody:
    """The body read up front, handed to the app as one message."""

    def __init__(self, body: bytes, receive: Receive) -> None:
        self._body: bytes | None = body
        self._receive = receive

    async def __call__(self) -> ReceiveMessage:
        if self._body is None:
            return await self._receive()  # after the body: the disconnect, when it comes
        body, self._body = self._body, None
        message: HTTPRequestEvent = {"type": "http.request", "body": body, "more_body": False}
        return message


async def _read_body(receive: Receive, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client left: nothing to answer
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise too_large(max_bytes)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _declared_size(headers: Headers) -> int:
    try:
        return int(headers.get("content-length", "0"))
    except ValueError:
        return 0


def body_limits_middleware(app: ASGIApp) -> ASGIApp:
    """413 past MAX_BODY_BYTES, 400 past MAX_JSON_DEPTH, before the handler decodes anything.

    Any body but a form is checked for depth: Litestar decodes a JSON parameter whatever the
    content type says.
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await app(scope, receive, send)
            return
        settings = get_settings()
        headers = Headers.from_scope(scope)
        if _declared_size(headers) > settings.max_body_bytes:
            raise too_large(settings.max_body_bytes)
        body = await _read_body(receive, settings.max_body_bytes)
        content_type = headers.get("content-type", "").lower()
        if not content_type.startswith(_UNDECODED) and json_too_deep(body, settings.max_json_depth):
            raise ClientError(
                "This JSON is nested too deeply",
                code="json_too_deep",
                details={"max_depth": settings.max_json_depth},
            )
        await app(scope, _BufferedBody(body, receive), send)

    return middleware


# --- Socket.IO packets ------------------------------------------------------------------------


class TooDeep:
    """Stands for a socket event's arguments that were nested too deeply to decode: the event
    handler answers it with an error ack instead of the decoder raising in the library."""

    def __repr__(self) -> str:
        return "<payload nested too deeply>"


TOO_DEEP = TooDeep()
_EVENT_NAME = re.compile(r'\s*\[\s*("(?:[^"\\]|\\.)*")')


class BoundedJson:
    """The json module as python-socketio uses it (`dumps`, `loads`), refusing deep nesting.

    python-socketio decodes each packet itself with the json module: a deep payload raised
    RecursionError inside the library (a logged traceback, and no ack for the client). Here
    the event name is kept and the arguments become TOO_DEEP, so the handler can answer.
    Engine.IO's max_http_buffer_size already bounds a packet's size.
    """

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth

    @staticmethod
    def dumps(obj: Any, *args: Any, **kwargs: Any) -> str:
        return json.dumps(obj, *args, **kwargs)

    def loads(self, text: str | bytes, *args: Any, **kwargs: Any) -> Any:
        if not json_too_deep(text, self.max_depth):
            return json.loads(text, *args, **kwargs)
        source = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        name = _EVENT_NAME.match(source)
        if name is None:  # a connect packet's auth, or an event without a name
            return TOO_DEEP if not source.lstrip().startswith("[") else ["", TOO_DEEP]
        return [json.loads(name.group(1)), TOO_DEEP]


def bound_socket_payloads(server: Any, max_depth: int) -> None:
    """Decode this server's Socket.IO packets with BoundedJson."""
    server.packet_class.json = BoundedJson(max_depth)
