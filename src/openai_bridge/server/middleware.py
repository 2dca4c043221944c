"""ASGI middleware of the bridge's own."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..logs import REQUEST_ID
from ..runs.run import BaseRun

log = logging.getLogger("openai_bridge")
# Polled by load balancers every few seconds: its log line is a debug one.
_QUIET_PATHS = frozenset({"/healthz"})

# The message that starts an HTTP answer, per scope type: a WebSocket upgrade is answered over HTTP too,
# when it is refused with a response (`websocket.http.response`) or accepted (101).
_STARTS = {"http": ("http.response.start",), "websocket": ("websocket.http.response.start", "websocket.accept")}


def request_id_of(scope: Scope) -> str:
    """The id `RequestIdMiddleware` gave this request ("-" outside it)."""
    state = scope.get("state")
    return str(state.get("request_id", "-")) if isinstance(state, dict) else "-"


def bearer_token(scope: Scope) -> str | None:
    """The client's `Authorization: Bearer ...` token, if it sent one."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() or None if scheme.lower() == "bearer" else None
    return None


def note_run(scope: Scope, run: BaseRun[Any, Any]) -> None:
    """The run answering this request: its model, outcome, tokens and time to first token go in the log line."""
    scope.setdefault("state", {})["run"] = run


def note_error(scope: Scope, code: str) -> None:
    """The code of the error this request is answered with, for the log line."""
    scope.setdefault("state", {})["error"] = code


class RequestIdMiddleware:
    """`x-request-id` on every answer (the client's own when it sent one), the request id on every log line
    written meanwhile, and one log line per request, written when its answer is complete:

        POST /v1/responses 200 1520.3ms model=qwen3 stream=true outcome=completed tokens=12/30 ttft=95.2ms

    `outcome` is `completed`, `incomplete:<reason>`, `failed:<code>` or `client_gone`; an error answer
    without a run says `error=<code>`.
    """

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

        token = REQUEST_ID.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            if not status:  # answered by the outermost handler, after this line is written
                status = 500
                note_error(scope, "server_error")
            raise
        finally:
            path = scope["path"]
            level = logging.DEBUG if path in _QUIET_PATHS else logging.INFO
            if log.isEnabledFor(level):
                line = f"{scope.get('method', 'GET')} {path} {status} {(time.perf_counter() - started) * 1000:.1f}ms"
                log.log(level, line + _details(scope["state"], started))
            REQUEST_ID.reset(token)


def _details(state: dict[str, object], started: float) -> str:
    run = state.get("run")
    if not isinstance(run, BaseRun):
        error = state.get("error")
        return f" error={error}" if error else ""
    text = f" model={run.model} stream={'true' if run.streaming else 'false'} outcome={run.outcome()}"
    usage = run.usage()
    if usage is not None:
        text += f" tokens={usage[0]}/{usage[1]}"
    if run.first_delta_at is not None:
        text += f" ttft={(run.first_delta_at - started) * 1000:.1f}ms"
    return text
