"""The configured store, from Settings: `BRIDGE_STORE` picks the records' backend (SQLite under
BRIDGE_STATE_DIR unless set), `BRIDGE_REDIS_URL` puts the live state of runs in Redis, `BRIDGE_STORE_TTL` is
the retention that `keep_expiring` enforces.

What lives where, and why:
- responses, their items, conversations: in BRIDGE_STORE, durably (a put is committed before it returns, so a
  response the client saw completed survives a crash of the bridge);
- a background run's stream events and cancel signal: in Redis when BRIDGE_REDIS_URL is set (replicas share them
  live, without polling a database), else in BRIDGE_STORE too (every worker of one machine, or every replica on
  one Postgres, sees them, at a short poll's delay).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ..settings import Settings, shown_url
from .base import Store
from .composite import WithLive
from .memory import MemoryStore

log = logging.getLogger("openai_bridge")


def store_url(settings: Settings) -> str:
    return settings.store or f"sqlite://{(settings.state_dir / 'store.sqlite3').absolute()}"


def describe(settings: Settings) -> str:
    """Where things are kept, for the start line: no password in it."""
    text = shown_url(store_url(settings))
    if settings.redis_url:
        text += f", live runs in {shown_url(settings.redis_url)}"
    return text


async def open_store(settings: Settings) -> Store:
    url = store_url(settings)
    store: Store
    if url == "memory":
        store = MemoryStore()
    elif url.startswith("sqlite:"):
        from .sqlite import SQLiteStore

        parts = urlsplit(url)
        synchronous = parse_qs(parts.query).get("synchronous", ["normal"])[-1].lower()
        if synchronous not in ("normal", "full"):
            raise ValueError(f"BRIDGE_STORE: synchronous={synchronous!r}: expected normal or full")
        # sqlite:///abs/path, also written sqlite:////abs/path (as SQLAlchemy does).
        store = await SQLiteStore.open(Path("/" + parts.path.lstrip("/")), synchronous=synchronous)
    else:
        from .postgres import PostgresStore

        store = await PostgresStore.open(url)
    if settings.redis_url:
        from .redis_live import RedisLive

        try:
            live = await RedisLive.open(settings.redis_url, ttl=settings.store_ttl)
        except BaseException:
            await store.close()
            raise
        store = WithLive(store, live)
    return store


class StoreSlot:
    """The app's store: opened at start (the app's lifespan calls `open`), or else at first use (an app served
    without a lifespan, as some tests do), once; or the one given (tests pass a `MemoryStore`)."""

    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        self._store = store
        self._opening = asyncio.Lock()
        self._expiring: asyncio.Task[None] | None = None

    async def get(self) -> Store:
        if self._store is None:
            async with self._opening:
                if self._store is None:
                    self._store = await open_store(self.settings)
                    self._expiring = asyncio.create_task(keep_expiring(self._store, self.settings.store_ttl))
        return self._store

    async def close(self) -> None:
        if self._expiring is not None:
            self._expiring.cancel()
        if self._store is not None:
            store, self._store = self._store, None
            await store.close()


async def keep_expiring(store: Store, ttl: float, every: float | None = None) -> None:
    """Runs until cancelled: deletes what is older than `ttl` now and then (hourly, or more often for a short
    ttl). Every worker may run it: deleting twice is harmless."""
    every = every if every is not None else max(1.0, min(3600.0, ttl / 10))
    while True:
        try:
            gone = await store.expire(ttl)
            if gone:
                log.info("store: %d objects older than %gs deleted", gone, ttl)
        except Exception:  # a database that is down now may be up at the next round
            log.exception("store: deleting expired objects failed")
        await asyncio.sleep(every)
