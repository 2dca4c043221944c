"""Every error the server answers, OpenAI-shaped: `{"error": {"message", "type", "param", "code"}}`."""

from __future__ import annotations

import logging

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from ..errors import BridgeError, InvalidRequest, internal_error
from .middleware import note_error, request_id_of

log = logging.getLogger("openai_bridge")


def json_response(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def error_response(exc: BridgeError) -> Response:
    return json_response(exc.body(), exc.status)


def install(app: FastAPI) -> None:
    """The exception handlers that turn every failure into an OpenAI-shaped error answer."""

    @app.exception_handler(BridgeError)
    async def _bridge_error(request: Request, exc: BridgeError) -> Response:
        note_error(request.scope, exc.code or exc.type)
        response = error_response(exc)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after:
            response.headers["retry-after"] = retry_after
        return response

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        code = "not_found" if exc.status_code == 404 else None
        note_error(request.scope, code or str(exc.status_code))
        message = f"{request.method} {request.url.path}: {exc.detail}"
        return json_response({"error": {"message": message, "type": "invalid_request_error", "param": None,
                                        "code": code}}, exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        note_error(request.scope, "invalid_request_error")
        return error_response(InvalidRequest(str(exc.errors())))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # Runs outside the request-id middleware (Starlette's outermost layer): it sets the header itself.
        request_id = request_id_of(request.scope)
        log.exception("unexpected error on %s %s", request.method, request.url.path,
                      extra={"request_id": request_id})
        response = error_response(internal_error(request_id))
        response.headers["x-request-id"] = request_id
        return response
