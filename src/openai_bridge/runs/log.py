"""The event log of one run: its events in order, appended by the producer, read by sinks."""

from __future__ import annotations

import asyncio


class EventLog[T]:
    """Append-only: Responses events, or the SSE frames of a chat completion stream. A sink keeps its own
    position and waits for events past it; the producer never waits for a sink, so a slow reader slows nobody
    but itself."""

    __slots__ = ("events", "closed", "_waiters")

    def __init__(self) -> None:
        self.events: list[T] = []
        self.closed = False  # no event will follow
        self._waiters: list[asyncio.Future[bool]] = []

    def extend(self, events: list[T]) -> None:
        if events:
            self.events += events
            self._wake()

    def close(self) -> None:
        self.closed = True
        self._wake()

    async def wait(self, position: int, timeout: float | None = None) -> bool:
        """Wait for an event past `position` or the end of the log: True; False if `timeout` passed first."""
        if len(self.events) > position or self.closed:
            return True
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        self._waiters.append(waiter)
        timer = loop.call_later(timeout, _expire, waiter) if timeout is not None else None
        try:
            return await waiter
        finally:
            if timer is not None:
                timer.cancel()
            if waiter in self._waiters:  # expired or cancelled, not woken
                self._waiters.remove(waiter)

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(True)


def _expire(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)
