"""Answering a run: its JSON answer, or its stream as server-sent events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from ..runs.log import EventLog
from ..runs.run import BaseRun
from .errors import json_response
from .middleware import note_run, request_id_of
from .sse import ClientGone, SSEResponse, Write, unless_disconnected

Sink = Callable[[EventLog[Any], Write, float], Awaitable[None]]


async def answer_run(request: Request, run: BaseRun[Any, Any], sink: Sink, keepalive: float, *,
                     detached: bool = False) -> Response:
    """A non-stream run's answer once it is done; a stream as `sink` writes the run's log. A client that
    hangs up cancels the run (and so the upstream request), unless the run is `detached` (a background one)."""
    note_run(request.scope, run)
    if not run.streaming:
        try:
            return json_response(await unless_disconnected(run.task, request.receive))
        except ClientGone:  # the upstream request is cancelled; the log line says client_gone
            return Response(status_code=499)
    try:
        # An upstream that refuses at once (bad model, 4xx) can still be an HTTP error status.
        await run.wait_opened(keepalive)
    except BaseException:
        run.cancel()
        raise
    return SSEResponse(lambda write: sink(run.log, write, keepalive), on_end=_stays if detached else run.abandon,
                       headers={"x-request-id": request_id_of(request.scope)})


def _stays() -> None:
    """A background run goes on when its client goes."""
