"""In-process wake-ups: a waiter for a key returns when `notify(key)` is called on the same event loop, or when
its timeout passes. The SQL backends notify after their own writes, so a reader in the same process hears of
new events at once; readers in other processes find them at their next poll."""

from __future__ import annotations

import asyncio
import contextlib


class Signals:
    def __init__(self) -> None:
        self._waiting: dict[str, set[asyncio.Event]] = {}

    async def wait(self, key: str, timeout: float | None) -> bool:
        """True when notified, False when `timeout` passed first."""
        event = asyncio.Event()
        self._waiting.setdefault(key, set()).add(event)
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await event.wait()
            return event.is_set()
        finally:
            waiters = self._waiting.get(key)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._waiting[key]

    def notify(self, key: str) -> None:
        for event in self._waiting.get(key, ()):
            event.set()
