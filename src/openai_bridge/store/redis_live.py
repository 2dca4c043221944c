"""Redis (`BRIDGE_REDIS_URL=redis://...`) for what replicas must share while a background run runs: its stream
events and its cancel signal. The replica running the stream appends each batch of events to a Redis stream;
a client that lost its connection can resume on any replica, which reads from the sequence number it names and
then blocks on the stream for more (XREAD BLOCK: no polling). A cancel sets a flag (which stays) and is
published, so the replica running the run stops it at once.

Why here and not in Postgres: these are many small writes per second per stream, read by whoever is waiting,
and worthless a while after the run ends; Redis serves that without loading the database, and expires the keys
by itself (after the retention, `ttl`). Responses, items and conversations stay in the durable store.

Keys (under `prefix`, tenant-scoped: another tenant's names lead to other keys):
- `{prefix}events:{tenant}:{response_id}`: a stream; event n has the entry id `n-1`, and the end of the run an
  entry with the largest id there is.
- `{prefix}cancel:{tenant}:{response_id}`: set once the run is cancelled; `{prefix}cancels` is the channel.
- `{prefix}beat:{tenant}:{response_id}`: when the run last said it was alive (seconds since the epoch).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from typing import Any

import redis.asyncio as redis

from .base import Events
from .signals import Signals

END_ID = "18446744073709551615-18446744073709551615"  # the largest stream entry id: nothing can follow it


class RedisLive:
    def __init__(self, client: Any, *, prefix: str = "openai-bridge:", ttl: float = 30 * 86400,
                 poll: float = 2.0, clock: Callable[[], float] = time.time) -> None:
        self._redis = client
        self.clock = clock
        self.prefix = prefix
        self.ttl = max(1, int(ttl))
        # A safety net only: a cancel published while the subscription was reconnecting is found by this poll.
        self.poll = poll
        self._signals = Signals()
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    @classmethod
    async def open(cls, url: str, **options: Any) -> RedisLive:
        client = redis.Redis.from_url(url)
        try:
            await client.ping()
        except BaseException:
            await client.aclose()
            raise
        return cls(client, **options)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self._redis.aclose()

    def _events_key(self, tenant: str, response_id: str) -> str:
        return f"{self.prefix}events:{tenant}:{response_id}"

    def _cancel_key(self, tenant: str, response_id: str) -> str:
        return f"{self.prefix}cancel:{tenant}:{response_id}"

    async def append_events(self, tenant: str, response_id: str, events: Sequence[tuple[int, bytes]]) -> None:
        key = self._events_key(tenant, response_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            for n, data in events:
                pipe.xadd(key, {"d": bytes(data)}, id=f"{int(n)}-1")
            pipe.expire(key, self.ttl)
            await pipe.execute()

    async def finish_events(self, tenant: str, response_id: str) -> None:
        key = self._events_key(tenant, response_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(key, {"end": b"1"}, id=END_ID)
            pipe.expire(key, self.ttl)
            await pipe.execute()

    async def read_events(self, tenant: str, response_id: str, after: int = -1, *, wait: float = 0) -> Events:
        key = self._events_key(tenant, response_id)
        start = f"{after + 1}-0" if after >= 0 else "0-0"
        found = _events(await self._redis.xrange(key, min=start, max="+"))
        if found.events or found.finished or wait <= 0:
            return found
        last = f"{after}-1" if after >= 0 else "0-0"
        answer = await self._redis.xread({key: last}, block=max(1, int(wait * 1000)))
        return _events(answer[0][1]) if answer else found

    async def beat(self, tenant: str, response_id: str) -> None:
        await self._redis.set(f"{self.prefix}beat:{tenant}:{response_id}", repr(self.clock()), ex=self.ttl)

    async def last_beat(self, tenant: str, response_id: str) -> float | None:
        found = await self._redis.get(f"{self.prefix}beat:{tenant}:{response_id}")
        return None if found is None else float(found)

    async def cancel(self, tenant: str, response_id: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._cancel_key(tenant, response_id), b"1", ex=self.ttl)
            pipe.publish(f"{self.prefix}cancels", f"{tenant} {response_id}")
            await pipe.execute()

    async def is_cancelled(self, tenant: str, response_id: str) -> bool:
        return bool(await self._redis.exists(self._cancel_key(tenant, response_id)))

    async def wait_cancelled(self, tenant: str, response_id: str) -> None:
        if self._listener is None or self._listener.done():
            self._subscribed.clear()
            self._listener = asyncio.create_task(self._listen(), name="bridge-redis-cancels")
        await self._subscribed.wait()  # subscribed before the check: a cancel from now on is heard
        while not await self.is_cancelled(tenant, response_id):
            await self._signals.wait(f"{tenant} {response_id}", self.poll)

    async def _listen(self) -> None:
        """One subscription per process for every cancel; each wakes the local waiters of its run."""
        pubsub = self._redis.pubsub()
        try:
            await pubsub.subscribe(f"{self.prefix}cancels")
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=False, timeout=None)
                if message is None:
                    continue
                if message["type"] == "subscribe":
                    self._subscribed.set()
                elif message["type"] == "message":
                    self._signals.notify(message["data"].decode())
        finally:
            self._subscribed.set()  # waiters fall back on polling
            await pubsub.aclose()


def _events(entries: list[tuple[bytes, dict[bytes, bytes]]]) -> Events:
    events: list[tuple[int, bytes]] = []
    finished = False
    for entry_id, fields in entries:
        if b"end" in fields:
            finished = True
        else:
            events.append((int(entry_id.split(b"-")[0]), fields[b"d"]))
    return Events(events, finished)
