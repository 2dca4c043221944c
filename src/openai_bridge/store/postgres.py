"""Postgres (`BRIDGE_STORE=postgresql://...`), for several replicas on one database, over asyncpg (async: the
event loop never waits on the database). The schema is created and migrated at start: `schema_version` holds
the version reached; replicas starting together take an advisory lock, so one migrates and the others wait.

Live state (a background run's events and cancel flag) has tables here too, which every replica sees: a reader
in the same process is woken at once, one elsewhere finds new rows at its next poll. With `BRIDGE_REDIS_URL`
set, Redis carries that state instead (store/redis_live.py), with no polling."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
import orjson

from ..errors import InvalidRequest
from .base import (
    MAX_CHAIN,
    Conversation,
    Events,
    IdTaken,
    JSONObject,
    Page,
    PageRequest,
    StoredResponse,
    Turn,
    check_items,
    page_of,
)
from .signals import Signals
from .sql import CONVERSATION, INPUT, OUTPUT, bounds, joined, response_rows

# Migration n takes the schema from version n to n + 1; add new ones at the end, never change old ones.
MIGRATIONS = [
    """
    CREATE TABLE responses (
        id TEXT PRIMARY KEY, tenant TEXT NOT NULL, previous_id TEXT, body BYTEA NOT NULL,
        stored_at DOUBLE PRECISION NOT NULL);
    CREATE INDEX responses_stored_at ON responses (stored_at);
    CREATE TABLE items (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, owner TEXT NOT NULL, kind TEXT NOT NULL,
        pos INTEGER NOT NULL, tenant TEXT NOT NULL, item_id TEXT NOT NULL, body BYTEA NOT NULL,
        UNIQUE (owner, kind, pos));
    CREATE INDEX items_by_id ON items (tenant, item_id);
    CREATE TABLE conversations (
        id TEXT PRIMARY KEY, tenant TEXT NOT NULL, created_at BIGINT NOT NULL, metadata BYTEA NOT NULL,
        changed_at DOUBLE PRECISION NOT NULL);
    CREATE INDEX conversations_changed_at ON conversations (changed_at);
    CREATE TABLE runs (
        tenant TEXT NOT NULL, response_id TEXT NOT NULL, finished BOOLEAN NOT NULL DEFAULT FALSE,
        cancelled BOOLEAN NOT NULL DEFAULT FALSE, changed_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (tenant, response_id));
    CREATE TABLE run_events (
        tenant TEXT NOT NULL, response_id TEXT NOT NULL, seq INTEGER NOT NULL, body BYTEA NOT NULL,
        PRIMARY KEY (tenant, response_id, seq));
    """,
    "ALTER TABLE runs ADD COLUMN beat DOUBLE PRECISION",
]


async def migrate(conn: Any) -> int:
    """Brings the schema (of the connection's search path) to the latest version; returns that version."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('openai-bridge schema ' || current_schema()))")
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        version = await conn.fetchval("SELECT max(version) FROM schema_version") or 0
        for n in range(version, len(MIGRATIONS)):
            await conn.execute(MIGRATIONS[n])
            await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", n + 1)
        return len(MIGRATIONS)


class PostgresStore:
    def __init__(self, pool: Any, *, clock: Callable[[], float] = time.time, poll: float = 0.2) -> None:
        self._pool = pool
        self.clock = clock
        self.poll = poll
        self._signals = Signals()

    @classmethod
    async def open(cls, dsn: str, *, schema: str | None = None, clock: Callable[[], float] = time.time,
                   poll: float = 0.2, max_size: int = 10) -> PostgresStore:
        """A store on the database at `dsn` (in `schema`, made if missing; else the default search path),
        migrated to the latest schema."""
        settings = {}
        if schema is not None:
            conn = await asyncpg.connect(dsn)
            try:
                await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            finally:
                await conn.close()
            settings["search_path"] = f'"{schema}"'
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=max_size, server_settings=settings)
        try:
            async with pool.acquire() as conn:
                await migrate(conn)
        except BaseException:
            await pool.close()
            raise
        return cls(pool, clock=clock, poll=poll)

    async def close(self) -> None:
        await self._pool.close()

    # Responses.

    async def put_response(self, tenant: str, response: StoredResponse) -> None:
        check_items(response.input_items)
        body, rows = response_rows(response)
        now = self.clock()
        async with self._pool.acquire() as conn, conn.transaction():
            done = await conn.fetchval(
                "INSERT INTO responses (id, tenant, previous_id, body, stored_at) VALUES ($1, $2, $3, $4, $5) "
                "ON CONFLICT (id) DO UPDATE SET previous_id = excluded.previous_id, body = excluded.body, "
                "stored_at = excluded.stored_at WHERE responses.tenant = excluded.tenant RETURNING 1",
                response.id, tenant, response.previous_response_id, body, now)
            if done is None:
                raise IdTaken(response.id)
            await conn.execute("DELETE FROM items WHERE owner = $1 AND kind IN ($2, $3)", response.id, INPUT, OUTPUT)
            await conn.executemany(
                "INSERT INTO items (owner, kind, pos, tenant, item_id, body) VALUES ($1, $2, $3, $4, $5, $6)",
                [(response.id, kind, pos, tenant, item_id, data) for kind, pos, item_id, data in rows])

    async def get_response(self, tenant: str, response_id: str) -> StoredResponse | None:
        async with self._pool.acquire() as conn:
            found = await _responses(conn, tenant, [response_id])
        return found[0] if found else None

    async def delete_response(self, tenant: str, response_id: str) -> bool:
        async with self._pool.acquire() as conn, conn.transaction():
            if await conn.fetchval("DELETE FROM responses WHERE id = $1 AND tenant = $2 RETURNING 1",
                                   response_id, tenant) is None:
                return False
            await conn.execute("DELETE FROM items WHERE owner = $1 AND kind IN ($2, $3)", response_id, INPUT, OUTPUT)
            await _delete_run(conn, tenant, response_id)
            return True

    async def list_input_items(self, tenant: str, response_id: str, page: PageRequest) -> Page | None:
        async with self._pool.acquire() as conn:
            if await conn.fetchval("SELECT 1 FROM responses WHERE id = $1 AND tenant = $2", response_id, tenant):
                return await _page(conn, response_id, INPUT, page)
            return None

    async def get_item(self, tenant: str, item_id: str) -> JSONObject | None:
        data = await self._pool.fetchval(
            "SELECT body FROM items WHERE tenant = $1 AND item_id = $2 ORDER BY seq DESC LIMIT 1", tenant, item_id)
        return None if data is None else orjson.loads(data)

    async def chain(self, tenant: str, response_id: str) -> list[Turn] | None:
        async with self._pool.acquire() as conn:
            ids = [row[0] for row in await conn.fetch(
                "WITH RECURSIVE chain (id, previous_id, depth) AS ("
                " SELECT id, previous_id, 0 FROM responses WHERE id = $1 AND tenant = $2"
                " UNION ALL SELECT r.id, r.previous_id, c.depth + 1 FROM responses r JOIN chain c"
                " ON r.id = c.previous_id WHERE r.tenant = $2 AND c.depth + 1 < $3)"
                " SELECT id FROM chain ORDER BY depth DESC", response_id, tenant, MAX_CHAIN)]
            found = await _responses(conn, tenant, list(dict.fromkeys(ids)))
        if not found:
            return None
        return [Turn(r.id, r.previous_response_id, r.instructions, r.input_items, r.output_items) for r in found]

    # Conversations.

    async def create_conversation(self, tenant: str, conversation: Conversation,
                                  items: Sequence[JSONObject] = ()) -> None:
        check_items(items)
        async with self._pool.acquire() as conn, conn.transaction():
            try:
                await conn.execute("INSERT INTO conversations (id, tenant, created_at, metadata, changed_at) "
                                   "VALUES ($1, $2, $3, $4, $5)", conversation.id, tenant, conversation.created_at,
                                   orjson.dumps(conversation.metadata), self.clock())
            except asyncpg.UniqueViolationError:
                raise IdTaken(conversation.id) from None
            await _append(conn, tenant, conversation.id, items, 0)

    async def get_conversation(self, tenant: str, conversation_id: str) -> Conversation | None:
        row = await self._pool.fetchrow("SELECT created_at, metadata FROM conversations WHERE id = $1 AND tenant = $2",
                                        conversation_id, tenant)
        return None if row is None else Conversation(conversation_id, row[0], orjson.loads(row[1]))

    async def update_conversation(self, tenant: str, conversation_id: str,
                                  metadata: dict[str, str]) -> Conversation | None:
        created = await self._pool.fetchval(
            "UPDATE conversations SET metadata = $1, changed_at = $2 WHERE id = $3 AND tenant = $4 "
            "RETURNING created_at", orjson.dumps(metadata), self.clock(), conversation_id, tenant)
        return None if created is None else Conversation(conversation_id, created, dict(metadata))

    async def delete_conversation(self, tenant: str, conversation_id: str) -> bool:
        async with self._pool.acquire() as conn, conn.transaction():
            if await conn.fetchval("DELETE FROM conversations WHERE id = $1 AND tenant = $2 RETURNING 1",
                                   conversation_id, tenant) is None:
                return False
            await conn.execute("DELETE FROM items WHERE owner = $1 AND kind = $2", conversation_id, CONVERSATION)
            return True

    async def list_conversation_items(self, tenant: str, conversation_id: str, page: PageRequest) -> Page | None:
        async with self._pool.acquire() as conn:
            if await conn.fetchval("SELECT 1 FROM conversations WHERE id = $1 AND tenant = $2",
                                   conversation_id, tenant):
                return await _page(conn, conversation_id, CONVERSATION, page)
            return None

    async def append_conversation_items(self, tenant: str, conversation_id: str,
                                        items: Sequence[JSONObject]) -> bool:
        check_items(items)
        async with self._pool.acquire() as conn, conn.transaction():
            # The row lock taken by the update orders concurrent appends to one conversation.
            if await conn.fetchval("UPDATE conversations SET changed_at = $1 WHERE id = $2 AND tenant = $3 "
                                   "RETURNING 1", self.clock(), conversation_id, tenant) is None:
                return False
            last = await conn.fetchval("SELECT max(pos) FROM items WHERE owner = $1 AND kind = $2",
                                       conversation_id, CONVERSATION)
            await _append(conn, tenant, conversation_id, items, 0 if last is None else last + 1)
            return True

    async def get_conversation_item(self, tenant: str, conversation_id: str, item_id: str) -> JSONObject | None:
        data = await self._pool.fetchval(
            "SELECT i.body FROM items i JOIN conversations c ON c.id = i.owner AND c.tenant = i.tenant "
            "WHERE i.owner = $1 AND i.kind = $2 AND i.tenant = $3 AND i.item_id = $4 ORDER BY i.pos LIMIT 1",
            conversation_id, CONVERSATION, tenant, item_id)
        return None if data is None else orjson.loads(data)

    async def delete_conversation_item(self, tenant: str, conversation_id: str, item_id: str) -> bool:
        async with self._pool.acquire() as conn, conn.transaction():
            if await conn.fetchval("UPDATE conversations SET changed_at = $1 WHERE id = $2 AND tenant = $3 "
                                   "RETURNING 1", self.clock(), conversation_id, tenant) is None:
                return False
            return await conn.fetchval(
                "DELETE FROM items WHERE seq = (SELECT seq FROM items WHERE owner = $1 AND kind = $2 AND item_id = $3 "
                "ORDER BY pos LIMIT 1) RETURNING 1", conversation_id, CONVERSATION, item_id) is not None

    async def expire(self, ttl: float) -> int:
        cutoff = self.clock() - ttl
        async with self._pool.acquire() as conn, conn.transaction():
            responses = await conn.fetch("DELETE FROM responses WHERE stored_at < $1 RETURNING id, tenant", cutoff)
            await conn.execute("DELETE FROM items WHERE owner = ANY($1::text[]) AND kind IN ($2, $3)",
                               [r[0] for r in responses], INPUT, OUTPUT)
            conversations = await conn.fetch("DELETE FROM conversations WHERE changed_at < $1 RETURNING id", cutoff)
            await conn.execute("DELETE FROM items WHERE owner = ANY($1::text[]) AND kind = $2",
                               [c[0] for c in conversations], CONVERSATION)
            runs = [(r[1], r[0]) for r in responses] + [tuple(r) for r in await conn.fetch(
                "SELECT tenant, response_id FROM runs WHERE changed_at < $1", cutoff)]
            for tenant, response_id in runs:
                await _delete_run(conn, tenant, response_id)
            return len(responses) + len(conversations)

    # Live state of runs.

    async def _touch_run(self, conn: Any, tenant: str, response_id: str, column: str = "") -> None:
        flag = f", {column} = TRUE" if column else ""
        await conn.execute(
            f"INSERT INTO runs (tenant, response_id, changed_at{', ' + column if column else ''}) "
            f"VALUES ($1, $2, $3{', TRUE' if column else ''}) ON CONFLICT (tenant, response_id) "
            f"DO UPDATE SET changed_at = excluded.changed_at{flag}", tenant, response_id, self.clock())

    async def append_events(self, tenant: str, response_id: str, events: Sequence[tuple[int, bytes]]) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await self._touch_run(conn, tenant, response_id)
            await conn.executemany("INSERT INTO run_events (tenant, response_id, seq, body) VALUES ($1, $2, $3, $4)",
                                   [(tenant, response_id, n, bytes(data)) for n, data in events])
        self._signals.notify(f"events {tenant} {response_id}")

    async def finish_events(self, tenant: str, response_id: str) -> None:
        async with self._pool.acquire() as conn:
            await self._touch_run(conn, tenant, response_id, "finished")
        self._signals.notify(f"events {tenant} {response_id}")

    async def read_events(self, tenant: str, response_id: str, after: int = -1, *, wait: float = 0) -> Events:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            async with self._pool.acquire() as conn:
                rows = await conn.fetch("SELECT seq, body FROM run_events WHERE tenant = $1 AND response_id = $2 "
                                        "AND seq > $3 ORDER BY seq", tenant, response_id, after)
                finished = await conn.fetchval("SELECT finished FROM runs WHERE tenant = $1 AND response_id = $2",
                                               tenant, response_id)
            found = Events([(r[0], bytes(r[1])) for r in rows], bool(finished))
            left = deadline - loop.time()
            if found.events or found.finished or left <= 0:
                return found
            await self._signals.wait(f"events {tenant} {response_id}", min(left, self.poll))

    async def beat(self, tenant: str, response_id: str) -> None:
        now = self.clock()
        await self._pool.execute(
            "INSERT INTO runs (tenant, response_id, changed_at, beat) VALUES ($1, $2, $3, $3) ON CONFLICT "
            "(tenant, response_id) DO UPDATE SET changed_at = excluded.changed_at, beat = excluded.beat",
            tenant, response_id, now)

    async def last_beat(self, tenant: str, response_id: str) -> float | None:
        found = await self._pool.fetchval("SELECT beat FROM runs WHERE tenant = $1 AND response_id = $2",
                                          tenant, response_id)
        return None if found is None else float(found)

    async def cancel(self, tenant: str, response_id: str) -> None:
        async with self._pool.acquire() as conn:
            await self._touch_run(conn, tenant, response_id, "cancelled")
        self._signals.notify(f"cancel {tenant} {response_id}")

    async def is_cancelled(self, tenant: str, response_id: str) -> bool:
        return bool(await self._pool.fetchval("SELECT cancelled FROM runs WHERE tenant = $1 AND response_id = $2",
                                              tenant, response_id))

    async def wait_cancelled(self, tenant: str, response_id: str) -> None:
        while not await self.is_cancelled(tenant, response_id):
            await self._signals.wait(f"cancel {tenant} {response_id}", self.poll)


async def _responses(conn: Any, tenant: str, ids: list[str]) -> list[StoredResponse]:
    if not ids:
        return []
    rows = {r[0]: r for r in await conn.fetch(
        "SELECT id, body, previous_id FROM responses WHERE tenant = $1 AND id = ANY($2::text[])", tenant, ids)}
    items: dict[str, list[tuple[str, bytes]]] = {}
    for owner, kind, data in await conn.fetch(
            "SELECT owner, kind, body FROM items WHERE tenant = $1 AND kind IN ($2, $3) AND owner = ANY($4::text[]) "
            "ORDER BY owner, kind, pos", tenant, INPUT, OUTPUT, list(rows)):
        items.setdefault(owner, []).append((kind, data))
    return [joined(i, rows[i][1], rows[i][2], items.get(i, [])) for i in ids if i in rows]


async def _page(conn: Any, owner: str, kind: str, page: PageRequest) -> Page:
    positions: dict[str, int | None] = {}
    for cursor in (page.after, page.before):
        if cursor is not None:
            positions[cursor] = await conn.fetchval(
                "SELECT pos FROM items WHERE owner = $1 AND kind = $2 AND item_id = $3 ORDER BY pos LIMIT 1",
                owner, kind, cursor)
    limits = bounds(page, positions.__getitem__)
    if isinstance(limits, str):
        cursor = page.after if limits == "after" else page.before
        raise InvalidRequest(f"No item with id '{cursor}' in this list.", param=limits)
    low, high = limits
    sql = "SELECT body FROM items WHERE owner = $1 AND kind = $2"
    args: list[object] = [owner, kind]
    if low is not None:
        args.append(low)
        sql += f" AND pos > ${len(args)}"
    if high is not None:
        args.append(high)
        sql += f" AND pos < ${len(args)}"
    args.append(page.limit + 1)
    sql += f" ORDER BY pos {'ASC' if page.order == 'asc' else 'DESC'} LIMIT ${len(args)}"
    return page_of([orjson.loads(r[0]) for r in await conn.fetch(sql, *args)], page.limit)


async def _append(conn: Any, tenant: str, conversation_id: str, items: Sequence[JSONObject], start: int) -> None:
    await conn.executemany(
        "INSERT INTO items (owner, kind, pos, tenant, item_id, body) VALUES ($1, $2, $3, $4, $5, $6)",
        [(conversation_id, CONVERSATION, start + n, tenant, str(item["id"]), orjson.dumps(item))
         for n, item in enumerate(items)])


async def _delete_run(conn: Any, tenant: str, response_id: str) -> None:
    await conn.execute("DELETE FROM runs WHERE tenant = $1 AND response_id = $2", tenant, response_id)
    await conn.execute("DELETE FROM run_events WHERE tenant = $1 AND response_id = $2", tenant, response_id)
