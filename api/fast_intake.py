"""The intake routes' common case answered below FastAPI's routing and dependencies.

One Alertmanager posts thousands of webhooks a second. For an accepted message the
FastAPI route's own machinery (routing through every route, dependency solving,
the exception middleware) cost more than authenticating, validating and queueing
it (bench/api.py). This ASGI middleware does those three things for a request to
an intake path and answers 202 itself. Anything else — no or an unknown token, a
wrong scope, a stream this server does not take, an oversized or undecodable
body, a full queue — goes on to the FastAPI route with the body replayed, so the
refusals (their status, reason and dead letter) and the OpenAPI document are the
route's, defined once.
"""

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from alertflow.api.deps import ApiContext
from alertflow.api.intake import IntakeFull
from alertflow.schemas import jsoncodec
from alertflow.schemas.decoders import decode_stream
from alertflow.schemas.errors import DecodeError

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Message, Receive, Send], Awaitable[None]]

PATHS = {
    "/api/v1/alerts/alertmanager": "alerts",
    "/api/v1/events/metrics": "metrics",
    "/api/v1/events/logs": "logs",
    "/api/v1/events/traces": "traces",
}


class IntakeFastPath:
    """ASGI middleware: accepts valid intake messages itself, passes the rest on."""

    def __init__(self, app: ASGIApp, ctx: ApiContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        """Answer 202 for an accepted intake message; hand anything else to ``app``."""
        stream = PATHS.get(scope.get("path", "")) if scope["type"] == "http" else None
        if stream is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body, disconnected = await _read_body(receive)
        if disconnected:
            return
        answer = await self._accept(scope, stream, body)
        if answer is None:
            await self.app(scope, _replay(body, receive), send)
            return
        await send({"type": "http.response.start", "status": 202, "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(answer)).encode()),
        ]})
        await send({"type": "http.response.body", "body": answer})

    async def _accept(self, scope: Message, stream: str, body: bytes) -> bytes | None:
        """The 202 answer's body, or None when the route must answer instead."""
        ctx = self.ctx
        token = _bearer(scope)
        if token is None or len(body) > ctx.max_message_bytes:
            return None
        owner = await ctx.owner(token)
        if owner is None or not owner.allows("act") or stream not in ctx.intake.streams():
            return None
        try:
            records = decode_stream(stream, body, "http")
            ctx.intake.offer(stream, body)
        except (DecodeError, RecursionError, IntakeFull):
            return None
        return jsoncodec.dumps({"stream": stream, "messages": 1, "records": len(records)})


def _bearer(scope: Message) -> str | None:
    """The token of an ``Authorization: Bearer`` header (the scheme in any case)."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            token = token.strip()
            return token if scheme.lower() == "bearer" and token else None
    return None


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"", True
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that yields the body read already, then waits on the client's."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again
