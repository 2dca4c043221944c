"""Sinks: what reads a run's event log and delivers it. Keepalives and the client's back-pressure are the
sink's business; upstream timeouts are the producer's, so a slow client never looks like a silent upstream."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ..wire.responses import ResponseStreamEvent
from ..wire.sse import KEEPALIVE, frame
from .log import EventLog

Write = Callable[[bytes], Awaitable[None]]


async def write_sse(log: EventLog[ResponseStreamEvent], write: Write, keepalive: float) -> None:
    """Every event of `log` as an SSE frame, the events that arrived together in one write, until the last
    one; an SSE comment whenever nothing was written for `keepalive` seconds."""
    await _write_log(log, write, keepalive, lambda events: b"".join([frame(e) for e in events]))


async def write_frames(log: EventLog[bytes], write: Write, keepalive: float) -> None:
    """The same for a log of ready SSE frames (a chat completion stream)."""
    await _write_log(log, write, keepalive, b"".join)


async def _write_log[E](log: EventLog[E], write: Write, keepalive: float, encode: Callable[[list[E]], bytes]) -> None:
    position = 0
    items = log.events
    while True:
        if position < len(items):
            batch = items[position:]
            position += len(batch)
            await write(encode(batch))
        elif log.closed:
            return
        elif not await log.wait(position, keepalive):
            await write(KEEPALIVE)
