"""`POST /v1/chat/completions`: a chat completion, or its chunk stream, from a chat upstream (passed through)
or a Responses one (translated)."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ...runs.sinks import write_frames
from ...service.chat import ChatService
from ..body import read_json
from ..errors import json_response
from ..middleware import bearer_token, note_run, request_id_of
from ..sse import ClientGone, SSEResponse, unless_disconnected

router = APIRouter()


@router.post("/chat/completions")
async def create_chat_completion(request: Request) -> Response:
    service: ChatService = request.app.state.chat
    body = await read_json(request, service.settings.limits)
    request_id = request_id_of(request.scope)
    run = service.create(body, request_id, client_key=bearer_token(request.scope))
    note_run(request.scope, run)
    if not run.streaming:
        try:
            return json_response(await unless_disconnected(run.task, request.receive))
        except ClientGone:  # the upstream request is cancelled; the log line says client_gone
            return Response(status_code=499)
    keepalive = service.settings.keepalive
    try:
        # An upstream that refuses at once (bad model, 4xx) can still be an HTTP error status.
        await run.wait_opened(keepalive)
    except BaseException:
        run.cancel()
        raise
    return SSEResponse(partial(write_frames, run.log, keepalive=keepalive), on_end=run.abandon,
                       headers={"x-request-id": request_id})
