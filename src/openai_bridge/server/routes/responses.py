"""`POST /v1/responses`: a Response object, or its event stream; a WebSocket upgrade there is refused (426).
`GET` and `DELETE /v1/responses/{id}`, `GET /v1/responses/{id}/input_items`: the caller's stored responses."""

from __future__ import annotations

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import Response

from ...errors import InvalidRequest
from ...runs.sinks import write_sse
from ...service.responses import ResponsesService
from ...service.stored import StoredResponses
from ...wire.sse import KEEPALIVE
from ..answer import answer_run
from ..body import read_json
from ..errors import json_response
from ..middleware import bearer_token, note_run, request_id_of
from ..pages import page_request
from ..sse import SSEResponse, Write
from ..tenants import tenant

router = APIRouter()


@router.post("/responses")
async def create_response(request: Request) -> Response:
    service: ResponsesService = request.app.state.responses
    body = await read_json(request, service.settings.limits)
    request_id = request_id_of(request.scope)
    run = await service.create(body, request_id, client_key=bearer_token(request.scope), tenant=tenant(request.scope))
    if run.detached is not None and not run.streaming:  # background: answered at once, the run goes on
        note_run(request.scope, run)
        return json_response(run.detached)
    return await answer_run(request, run, write_sse, service.settings.keepalive, detached=run.detached is not None)


@router.get("/responses/{response_id}")
async def get_response(request: Request, response_id: str) -> Response:
    """The stored response; with `stream=true`, a background response's events (`starting_after=N`: those after
    sequence number N), as they are recorded, until its stream ends."""
    stored: StoredResponses = request.app.state.stored
    query = request.query_params
    if query.get("stream", "false").lower() != "true":
        return json_response(await stored.get(tenant(request.scope), response_id))
    raw = query.get("starting_after", "-1")
    try:
        after = int(raw)
    except ValueError:
        raise InvalidRequest(f"Invalid 'starting_after': {raw!r}. Expected an integer.", param="starting_after") \
            from None
    keepalive = request.app.state.responses.settings.keepalive
    frames = await stored.events(tenant(request.scope), response_id, after, keepalive)

    async def sink(write: Write) -> None:
        async for data in frames:
            await write(data or KEEPALIVE)

    return SSEResponse(sink, on_end=lambda: None, headers={"x-request-id": request_id_of(request.scope)})


@router.post("/responses/{response_id}/cancel")
async def cancel_response(request: Request, response_id: str) -> Response:
    stored: StoredResponses = request.app.state.stored
    return json_response(await stored.cancel(tenant(request.scope), response_id))


@router.delete("/responses/{response_id}")
async def delete_response(request: Request, response_id: str) -> Response:
    stored: StoredResponses = request.app.state.stored
    return json_response(await stored.delete(tenant(request.scope), response_id))


@router.get("/responses/{response_id}/input_items")
async def list_input_items(request: Request, response_id: str) -> Response:
    stored: StoredResponses = request.app.state.stored
    return json_response(await stored.input_items(tenant(request.scope), response_id, page_request(request)))


# Until the WebSocket mode exists. Codex (`supports_websockets = true` on a provider) tries a socket first and
# goes over to HTTP at once on a 426 only; on a 403, 404 or 405 it retries the socket with backoff for
# seconds before it does.
WEBSOCKET_NOT_SUPPORTED = InvalidRequest(
    "WebSocket mode is not available on this bridge yet; send the request over HTTP: POST /v1/responses.",
    code="websocket_not_supported", status=426)


@router.websocket("/responses")
async def responses_socket(websocket: WebSocket) -> None:
    """Refuse the upgrade before any handshake, with a plain HTTP answer (the ASGI `websocket.http.response`
    extension, which uvicorn has): 426 and an OpenAI-shaped error body. (uvicorn 0.54's websockets-sansio
    then logs "ASGI callable returned without completing handshake." although the answer went out whole: its
    bug, Kludex/uvicorn#3138.)"""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(json_response(WEBSOCKET_NOT_SUPPORTED.body(), 426))
    else:  # a server without the extension can only say 403
        await websocket.close()
