"""The FastAPI application."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config import Config
from ..errors import BridgeError, InvalidRequest
from ..service import Bridge
from ..upstream.http import ChatUpstream
from .sse import ClientGone, SSEResponse, unless_disconnected

log = logging.getLogger("openai_bridge")
# The largest request body accepted: long agent histories with images are big, but not this big.
MAX_BODY = 64 * 1024 * 1024


def json_response(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def error_response(exc: BridgeError) -> Response:
    return json_response(exc.body(), exc.status)


def create_app(config: Config) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        up = ChatUpstream(config.upstream, api_key=config.api_key, timeouts=config.timeouts)
        app.state.bridge = Bridge(config, up)
        try:
            yield
        finally:
            await up.aclose()

    app = FastAPI(title="openai-bridge", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(RequestIdMiddleware)

    @app.exception_handler(BridgeError)
    async def _bridge_error(request: Request, exc: BridgeError) -> Response:
        return error_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = "not_found" if exc.status_code == 404 else None
        message = f"{request.method} {request.url.path}: {exc.detail}"
        return json_response({"error": {"message": message, "type": "invalid_request_error", "param": None,
                                        "code": code}}, exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        return error_response(InvalidRequest(str(exc.errors())))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(BridgeError(f"Internal error in the bridge: {type(exc).__name__}: {exc}"))

    @app.get("/healthz")
    async def healthz() -> Response:
        return json_response({"status": "ok"})

    @app.post("/v1/responses")
    @app.post("/responses")
    async def create_response(request: Request) -> Response:
        bridge: Bridge = request.app.state.bridge
        body = await read_json(request)
        request_id = request.scope.get("state", {}).get("request_id", "-")
        down = bridge.down(body, request_id)
        headers = {"x-request-id": request_id}
        if not down.chat.get("stream"):
            try:
                return json_response(await unless_disconnected(bridge.create(body, down), request.receive))
            except ClientGone:
                log.info("request %s: client went away; upstream request cancelled", request_id)
                return Response(status_code=499)
        opening = await bridge.open_stream(down)
        return SSEResponse(partial(bridge.stream, body, down, opening), headers=headers)

    @app.get("/v1/models")
    @app.get("/models")
    async def models(request: Request) -> Response:
        bridge: Bridge = request.app.state.bridge
        return json_response(await bridge.upstream.models())

    return app


async def read_json(request: Request) -> dict[str, Any]:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:  # refuse before reading it
        raise BridgeError(f"The request body is larger than {MAX_BODY} bytes.", status=413, code="payload_too_large")
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise BridgeError(f"The request body is larger than {MAX_BODY} bytes.", status=413, code="payload_too_large")
    if not raw.strip():
        raise InvalidRequest("The request body is empty; send a JSON object.")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}", code="invalid_json") from exc
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return body


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
