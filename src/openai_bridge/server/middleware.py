"""ASGI middleware of the bridge's own."""

from __future__ import annotations

import logging
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("openai_bridge")

# The message that starts an HTTP answer, per scope type: a WebSocket upgrade is answered over HTTP too,
# when it is refused with a response (`websocket.http.response`) or accepted (101).
_STARTS = {"http": ("http.response.start",), "websocket": ("websocket.http.response.start", "websocket.accept")}


def request_id_of(scope: Scope) -> str:
    """The id `RequestIdMiddleware` gave this request ("-" outside it)."""
    state = scope.get("state")
    return str(state.get("request_id", "-")) if isinstance(state, dict) else "-"


class RequestIdMiddleware:
    """`x-request-id` on every answer (the client's own when it sent one), and one log line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        starts = _STARTS.get(scope["type"])
        if starts is None:
            await self.app(scope, receive, send)
            return
        request_id = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")[:200]
                break
        if not request_id:
            request_id = "req_" + uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 0
        header_value = request_id.encode("latin-1")

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] in starts:
                status = message.get("status", 101)
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                headers.append((b"x-request-id", header_value))
                message = {**message, "headers": headers}
            elif message["type"] == "websocket.close" and not status:
                status = 403  # closed before the handshake: the server refuses the upgrade with a 403
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log.info("%s %s %s %d %.1fms", request_id, scope.get("method", "GET"), scope["path"], status,
                     (time.perf_counter() - started) * 1000)
