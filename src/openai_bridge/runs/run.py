"""A run: one response being produced by one producer task into its event log."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from ..errors import BridgeError
from ..wire.responses import Response
from .log import EventLog

Producer = Callable[["Run"], Coroutine[Any, Any, Response]]


class Run:
    """`task` runs the producer, whose result is the final Response (or whose exception is the reason
    there is none); `log` holds its events for the sinks. `opened` is done once the upstream accepted the
    request or refused it (`open_error`)."""

    __slots__ = ("streaming", "log", "opened", "open_error", "task")

    def __init__(self, produce: Producer, *, streaming: bool) -> None:
        self.streaming = streaming
        self.log = EventLog()
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.open_error: BridgeError | None = None
        self.task: asyncio.Task[Response] = asyncio.ensure_future(produce(self))

    def accepted(self) -> None:
        if not self.opened.done():
            self.opened.set_result(None)

    def refused(self, error: BridgeError) -> None:
        self.open_error = error
        self.accepted()

    async def wait_opened(self, timeout: float) -> None:
        """Wait up to `timeout` for the upstream to accept the request; raise its refusal if it refused
        meanwhile (so that it can still be an HTTP error status instead of a failed stream)."""
        if not self.opened.done():
            await asyncio.wait((self.opened,), timeout=timeout)
        if self.open_error is not None:
            raise self.open_error

    def cancel(self) -> None:
        self.task.cancel()
