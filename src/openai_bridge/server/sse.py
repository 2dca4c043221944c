"""An SSE response that stops the producer as soon as the client goes away.

Starlette's StreamingResponse only notices a disconnect at its next write; while the upstream is
thinking that can be minutes, with the upstream request still running. Here a watcher waits for
`http.disconnect` and cancels the pump, whose `finally` closes the upstream connection.
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

    def __init__(self, produce: Callable[[Write], Awaitable[None]], headers: dict[str, str] | None = None) -> None:
        # Starlette's Response.__init__ would render a body; this one streams what `produce` writes.
        self.produce = produce
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
            await self.produce(write)
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        with contextlib.suppress(ClientGone):
            await unless_disconnected(pump(), receive)


class ClientGone(Exception):
    """The client hung up before its answer was ready."""


async def unless_disconnected[T](coro: Awaitable[T], receive: Receive) -> T:
    """Await `coro`, but cancel it (and so its upstream request) as soon as the client hangs up."""
    work = asyncio.ensure_future(coro)
    watcher = asyncio.ensure_future(_disconnected(receive))
    try:
        await asyncio.wait((work, watcher), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (work, watcher):
            if not task.done():
                task.cancel()
        await asyncio.gather(work, watcher, return_exceptions=True)
    if work.cancelled():
        raise ClientGone()
    return work.result()


async def _disconnected(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
