"""Two store objects on the same backend stand for two workers or replicas: what one appends or cancels, the
other sees, waiting for it (SQLite and Postgres by polling, Redis by blocking). And Postgres migrates once:
a second replica starting on a migrated schema finds its version and changes nothing."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from openai_bridge.store.base import StoredResponse
from tests.store.backends import POSTGRES_DSN, Clock, missing, opened


@contextlib.asynccontextmanager
async def twin(kind: str, first: object, tmp_path: Path):
    """A second store on the same data as `first`."""
    if kind == "sqlite":
        from openai_bridge.store.sqlite import SQLiteStore

        other = await SQLiteStore.open(tmp_path / "store.sqlite3", poll=0.05)
    elif kind == "postgres":
        from openai_bridge.store.postgres import PostgresStore

        schema = await first._pool.fetchval("SELECT current_schema()")  # type: ignore[attr-defined]
        other = await PostgresStore.open(POSTGRES_DSN, schema=schema, poll=0.05, max_size=2)
    else:
        from openai_bridge.store.composite import WithLive
        from openai_bridge.store.redis_live import RedisLive

        live = first.live  # type: ignore[attr-defined]
        other = WithLive(first.records, RedisLive(type(live._redis).from_url(  # type: ignore[attr-defined]
            "redis://127.0.0.1:6379/0"), prefix=live.prefix))
    try:
        yield other
    finally:
        await other.live.close() if kind == "redis" else await other.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "redis"])
def test_another_replica_resumes_and_cancels(kind: str, tmp_path: Path):
    why = missing(kind)
    if why:
        pytest.skip(why)

    async def go() -> None:
        async with opened(kind, tmp_path, Clock()) as one, twin(kind, one, tmp_path) as two:
            await one.put_response("t", StoredResponse("resp_1", {"id": "resp_1", "status": "in_progress"}))
            assert (await two.get_response("t", "resp_1")).response["status"] == "in_progress"
            await one.append_events("t", "resp_1", [(0, b"a"), (1, b"b")])
            assert (await two.read_events("t", "resp_1", after=0)).events == [(1, b"b")]
            reader = asyncio.create_task(two.read_events("t", "resp_1", after=1, wait=30))
            await asyncio.sleep(0.01)
            await one.append_events("t", "resp_1", [(2, b"c")])
            assert (await asyncio.wait_for(reader, 30)).events == [(2, b"c")]
            waiter = asyncio.create_task(one.wait_cancelled("t", "resp_1"))
            await asyncio.sleep(0.01)
            await two.cancel("t", "resp_1")
            await asyncio.wait_for(waiter, 30)

    asyncio.run(go())


def test_postgres_migrates_once(tmp_path: Path):
    why = missing("postgres")
    if why:
        pytest.skip(why)
    from openai_bridge.store.postgres import MIGRATIONS, migrate

    async def go() -> None:
        async with opened("postgres", tmp_path, Clock()) as store, store._pool.acquire() as conn:
            assert await migrate(conn) == len(MIGRATIONS)  # a second replica's start: nothing to do
            assert [tuple(r) for r in await conn.fetch("SELECT version FROM schema_version")] == \
                [(n + 1,) for n in range(len(MIGRATIONS))]

    asyncio.run(go())
