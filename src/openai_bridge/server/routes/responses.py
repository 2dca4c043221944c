"""`POST /v1/responses`: a Response object, or its event stream."""

from __future__ import annotations

import logging
from functools import partial

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ...runs.sinks import write_sse
from ...service.responses import ResponsesService
from ..body import read_json
from ..errors import json_response
from ..middleware import request_id_of
from ..sse import ClientGone, SSEResponse, unless_disconnected

log = logging.getLogger("openai_bridge")
router = APIRouter()


@router.post("/responses")
async def create_response(request: Request) -> Response:
    service: ResponsesService = request.app.state.responses
    body = await read_json(request, service.settings.limits)
    request_id = request_id_of(request.scope)
    run = service.create(body, request_id)
    if not run.streaming:
        try:
            return json_response(await unless_disconnected(run.task, request.receive))
        except ClientGone:
            log.info("request %s: client went away; upstream request cancelled", request_id)
            return Response(status_code=499)
    keepalive = service.settings.keepalive
    try:
        # An upstream that refuses at once (bad model, 4xx) can still be an HTTP error status.
        await run.wait_opened(keepalive)
    except BaseException:
        run.cancel()
        raise
    return SSEResponse(partial(write_sse, run.log, keepalive=keepalive), on_end=run.cancel,
                       headers={"x-request-id": request_id})
