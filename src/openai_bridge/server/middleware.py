"""ASGI middleware of the bridge's own."""

from __future__ import annotations

import logging
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("openai_bridge")


def request_id_of(scope: Scope) -> str:
    """The id `RequestIdMiddleware` gave this request ("-" outside it)."""
    state = scope.get("state")
    return str(state.get("request_id", "-")) if isinstance(state, dict) else "-"


class RequestIdMiddleware:
    """`x-request-id` on every answer (the client's own when it sent one), and one log line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
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
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                headers.append((b"x-request-id", header_value))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log.info("%s %s %s %d %.1fms", request_id, scope["method"], scope["path"], status,
                     (time.perf_counter() - started) * 1000)
