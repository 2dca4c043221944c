"""The store backends the contract suite runs against, each opened fresh for one test: memory; SQLite in a
temporary file; Postgres at 127.0.0.1:5432 (database `test`) in a schema of its own, dropped afterwards; and
Redis at 127.0.0.1:6379 (under a key prefix of its own, deleted afterwards) for the live state, beside the
memory store. A service that is not running skips its backend, saying so."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from openai_bridge.store.base import Store
from openai_bridge.store.composite import WithLive
from openai_bridge.store.memory import MemoryStore
from openai_bridge.store.sqlite import SQLiteStore

POSTGRES_DSN = os.environ.get("BRIDGE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BRIDGE_TEST_REDIS", "redis://127.0.0.1:6379/0")
BACKENDS = ["memory", "sqlite", "postgres", "redis"]


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def missing(kind: str) -> str | None:
    """Why `kind` cannot run here, or None."""
    if kind == "postgres" and not listening(5432):
        return "Postgres is not running on 127.0.0.1:5432 (the Postgres backend is not tested)"
    if kind == "redis" and not listening(6379):
        return "Redis is not running on 127.0.0.1:6379 (the Redis backend is not tested)"
    return None


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@contextlib.asynccontextmanager
async def opened(kind: str, tmp_path: Path, clock: Callable[[], float]) -> AsyncIterator[Store]:
    run = f"{os.getpid()}_{secrets.token_hex(4)}"
    if kind == "memory":
        yield MemoryStore(clock)
    elif kind == "sqlite":
        store = await SQLiteStore.open(tmp_path / "store.sqlite3", clock=clock, poll=0.05)
        try:
            yield store
        finally:
            await store.close()
    elif kind == "postgres":
        import asyncpg

        from openai_bridge.store.postgres import PostgresStore

        schema = f"bridge_test_{run}"
        pg = await PostgresStore.open(POSTGRES_DSN, schema=schema, clock=clock, poll=0.05, max_size=4)
        try:
            yield pg
        finally:
            await pg.close()
            conn = await asyncpg.connect(POSTGRES_DSN)
            try:
                await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
            finally:
                await conn.close()
    elif kind == "redis":
        from openai_bridge.store.redis_live import RedisLive

        prefix = f"bridge-test:{run}:"
        live = await RedisLive.open(REDIS_URL, prefix=prefix, ttl=600, clock=clock)
        try:
            yield WithLive(MemoryStore(clock), live)
        finally:
            keys = [k async for k in live._redis.scan_iter(match=prefix + "*")]
            if keys:
                await live._redis.delete(*keys)
            await live.close()
    else:
        raise ValueError(kind)
