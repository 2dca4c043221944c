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
    position = 0
    events = log.events
    while True:
        if position < len(events):
            batch = events[position:]
            position += len(batch)
            await write(b"".join([frame(e) for e in batch]))
        elif log.closed:
            return
        elif not await log.wait(position, keepalive):
            await write(KEEPALIVE)


async def write_frames(log: EventLog[bytes], write: Write, keepalive: float) -> None:
    """The same for a log of ready SSE frames (a chat completion stream)."""
    position = 0
    frames = log.events
    while True:
        if position < len(frames):
            batch = frames[position:]
            position += len(batch)
            await write(b"".join(batch))
        elif log.closed:
            return
        elif not await log.wait(position, keepalive):
            await write(KEEPALIVE)
