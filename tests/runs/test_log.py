"""The event log: sinks wait by position, time out without losing their place, and leave nothing behind."""

from __future__ import annotations

import asyncio
from typing import Any

from openai_bridge.runs.log import EventLog

E: Any = {"type": "response.created", "sequence_number": 0}


def test_wait_returns_at_once_when_events_are_past_the_position_or_the_log_is_closed():
    async def go() -> list[bool]:
        log = EventLog()
        log.extend([E])
        first = await log.wait(0, timeout=0)
        log.close()
        return [first, await log.wait(1, timeout=0)]

    assert asyncio.run(go()) == [True, True]


def test_wait_times_out_then_wakes_on_the_next_event():
    async def go() -> tuple[bool, bool, int]:
        log = EventLog()
        timed_out = await log.wait(0, timeout=0.01)
        waiter = asyncio.ensure_future(log.wait(0, timeout=5))
        await asyncio.sleep(0)
        log.extend([E])
        return timed_out, await waiter, len(log._waiters)

    assert asyncio.run(go()) == (False, True, 0)


def test_every_waiting_sink_wakes_and_expired_waiters_are_dropped():
    async def go() -> tuple[list[bool], int]:
        log = EventLog()
        for _ in range(3):
            await log.wait(0, timeout=0.001)  # keepalive rounds of a quiet stream
        assert log._waiters == []
        sinks = [asyncio.ensure_future(log.wait(0)) for _ in range(2)]
        await asyncio.sleep(0)
        log.extend([])  # nothing new: nobody wakes
        await asyncio.sleep(0)
        assert not any(s.done() for s in sinks)
        log.close()
        return [await s for s in sinks], len(log._waiters)

    assert asyncio.run(go()) == ([True, True], 0)


def test_a_cancelled_wait_leaves_no_waiter():
    async def go() -> int:
        log = EventLog()
        task = asyncio.ensure_future(log.wait(0))
        await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return len(log._waiters)

    assert asyncio.run(go()) == 0
