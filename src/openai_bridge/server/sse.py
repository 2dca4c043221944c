"""The SSE response: runs a sink that writes a run's events, and stops the run as soon as the client goes
away.

Starlette's StreamingResponse only notices a disconnect at its next write; while the upstream is
thinking that can be minutes, with the upstream request still running. Here a watcher waits for
`http.disconnect`, cancels the sink and calls `on_gone` (which cancels the run, closing the upstream).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

Write = Callable[[bytes], Awaitable[None]]


class SSEResponse(Response):
    media_type = "text/event-stream; charset=utf-8"

    def __init__(self, sink: Callable[[Write], Awaitable[None]], *, on_end: Callable[[], None],
                 headers: dict[str, str] | None = None) -> None:
        # Starlette's Response.__init__ would render a body; this one streams what `sink` writes.
        self.sink = sink
        self.on_end = on_end
        self.extra_headers = headers or {}
        self.status_code = 200
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw_headers = [
            (b"content-type", self.media_type.encode()),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),
        ] + [(k.encode(), v.encode()) for k, v in self.extra_headers.items()]
        await send({"type": "http.response.start", "status": 200, "headers": raw_headers})

        async def write(data: bytes) -> None:
            await send({"type": "http.response.body", "body": data, "more_body": True})

        async def pump() -> None:
            await self.sink(write)
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        try:
            with contextlib.suppress(ClientGone):
                await unless_disconnected(pump(), receive)
        finally:
            self.on_end()


class ClientGone(Exception):
    """The client hung up before its answer was complete."""


async def unless_disconnected[T](work: Awaitable[T], receive: Receive) -> T:
    """Await `work` (a coroutine, or a task: then no new task is made), but cancel it as soon as the client
    hangs up, and raise `ClientGone`."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(receive))
    try:
        await asyncio.wait((task, watcher), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in (task, watcher):
            if not t.done():
                t.cancel()
        await asyncio.gather(task, watcher, return_exceptions=True)
    if task.cancelled():
        raise ClientGone()
    return task.result()


async def _disconnected(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
