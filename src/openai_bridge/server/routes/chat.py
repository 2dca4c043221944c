"""`POST /v1/chat/completions`: a chat completion, or its chunk stream, from a chat upstream (passed through)
or a Responses one (translated)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ...runs.sinks import write_frames
from ...service.chat import ChatService
from ..answer import answer_run
from ..body import read_json
from ..middleware import bearer_token, request_id_of

router = APIRouter()


@router.post("/chat/completions")
async def create_chat_completion(request: Request) -> Response:
    service: ChatService = request.app.state.chat
    body = await read_json(request, service.settings.limits)
    request_id = request_id_of(request.scope)
    run = service.create(body, request_id, client_key=bearer_token(request.scope))
    return await answer_run(request, run, write_frames, service.settings.keepalive)
