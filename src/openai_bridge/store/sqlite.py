"""The embedded default: one SQLite file (`BRIDGE_STORE=sqlite:///path`; by default `store.sqlite3` in
BRIDGE_STATE_DIR), shared by the workers of one machine. WAL mode: readers never wait for the writer, nor the
writer for them. The event loop never touches the file: writes go through one writer thread
(store/sqlite_writer.py), reads through a small pool of reader threads with a connection each.

Durability: a put returns after its transaction committed. With `synchronous=NORMAL` (the default here) a
commit survives the bridge being killed (`kill -9`, a crash) but the last ones may be lost if the machine
loses power; `?synchronous=full` syncs the WAL on every commit (batched by the writer, still one sync per
batch).

Live state (a background run's events and cancel flag) is kept here too, so every worker of the machine sees
it: a reader in the same process is woken at once, one in another worker finds new rows at its next poll."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

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
from .sqlite_writer import Writer

SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    id TEXT PRIMARY KEY, tenant TEXT NOT NULL, previous_id TEXT, body BLOB NOT NULL, stored_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS responses_stored_at ON responses (stored_at);
CREATE TABLE IF NOT EXISTS items (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, owner TEXT NOT NULL, kind TEXT NOT NULL, pos INTEGER NOT NULL,
    tenant TEXT NOT NULL, item_id TEXT NOT NULL, body BLOB NOT NULL, UNIQUE (owner, kind, pos));
CREATE INDEX IF NOT EXISTS items_by_id ON items (tenant, item_id);
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY, tenant TEXT NOT NULL, created_at INTEGER NOT NULL, metadata BLOB NOT NULL,
    changed_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS conversations_changed_at ON conversations (changed_at);
CREATE TABLE IF NOT EXISTS runs (
    tenant TEXT NOT NULL, response_id TEXT NOT NULL, finished INTEGER NOT NULL DEFAULT 0,
    cancelled INTEGER NOT NULL DEFAULT 0, changed_at REAL NOT NULL, PRIMARY KEY (tenant, response_id));
CREATE TABLE IF NOT EXISTS run_events (
    tenant TEXT NOT NULL, response_id TEXT NOT NULL, seq INTEGER NOT NULL, body BLOB NOT NULL,
    PRIMARY KEY (tenant, response_id, seq));
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
"""
VERSION = 1

Synchronous = Literal["normal", "full"]


class SQLiteStore:
    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time, poll: float = 0.2,
                 synchronous: Synchronous = "normal") -> None:
        self.path = path
        self.clock = clock
        self.poll = poll
        self.synchronous = synchronous
        self._writer = Writer(self._connect)
        self._readers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="bridge-store-reader")
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._signals = Signals()

    @classmethod
    async def open(cls, path: Path, **options: object) -> SQLiteStore:
        """A store on `path` (made, with its directory, if missing), its schema created."""
        store = cls(path, **options)  # type: ignore[arg-type]
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        await store._writer(_create_schema)
        return store

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self.synchronous.upper()}")
        conn.execute("PRAGMA foreign_keys=OFF")
        return conn

    async def _read[T](self, job: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._readers, self._in_reader, job)

    def _in_reader[T](self, job: Callable[[sqlite3.Connection], T]) -> T:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
            conn.execute("PRAGMA query_only=ON")
            self._reader_conns.append(conn)
        return job(conn)

    async def close(self) -> None:
        await self._writer.close()
        self._readers.shutdown(wait=True)
        for conn in self._reader_conns:
            conn.close()

    # Responses.

    async def put_response(self, tenant: str, response: StoredResponse) -> None:
        check_items(response.input_items)
        body, rows = response_rows(response)
        now = self.clock()

        def put(conn: sqlite3.Connection) -> None:
            done = conn.execute(
                "INSERT INTO responses (id, tenant, previous_id, body, stored_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET previous_id = excluded.previous_id, body = excluded.body, "
                "stored_at = excluded.stored_at WHERE responses.tenant = excluded.tenant",
                (response.id, tenant, response.previous_response_id, body, now))
            if done.rowcount == 0:
                raise IdTaken(response.id)
            conn.execute("DELETE FROM items WHERE owner = ? AND kind IN (?, ?)", (response.id, INPUT, OUTPUT))
            conn.executemany("INSERT INTO items (owner, kind, pos, tenant, item_id, body) VALUES (?, ?, ?, ?, ?, ?)",
                             [(response.id, kind, pos, tenant, item_id, data) for kind, pos, item_id, data in rows])

        await self._writer(put)

    async def get_response(self, tenant: str, response_id: str) -> StoredResponse | None:
        turns = await self._read(lambda conn: _responses(conn, tenant, [response_id]))
        return turns[0] if turns else None

    async def delete_response(self, tenant: str, response_id: str) -> bool:
        def delete(conn: sqlite3.Connection) -> bool:
            if conn.execute("DELETE FROM responses WHERE id = ? AND tenant = ?", (response_id, tenant)).rowcount == 0:
                return False
            conn.execute("DELETE FROM items WHERE owner = ? AND kind IN (?, ?)", (response_id, INPUT, OUTPUT))
            _delete_run(conn, tenant, response_id)
            return True

        return await self._writer(delete)

    async def list_input_items(self, tenant: str, response_id: str, page: PageRequest) -> Page | None:
        def list_(conn: sqlite3.Connection) -> Page | None:
            if conn.execute("SELECT 1 FROM responses WHERE id = ? AND tenant = ?", (response_id, tenant)).fetchone():
                return _page(conn, response_id, INPUT, page)
            return None

        return await self._read(list_)

    async def get_item(self, tenant: str, item_id: str) -> JSONObject | None:
        row = await self._read(lambda conn: conn.execute(
            "SELECT body FROM items WHERE tenant = ? AND item_id = ? ORDER BY seq DESC LIMIT 1",
            (tenant, item_id)).fetchone())
        return None if row is None else orjson.loads(row[0])

    async def chain(self, tenant: str, response_id: str) -> list[Turn] | None:
        def chain(conn: sqlite3.Connection) -> list[StoredResponse]:
            ids = [row[0] for row in conn.execute(
                "WITH RECURSIVE chain (id, previous_id, depth) AS ("
                " SELECT id, previous_id, 0 FROM responses WHERE id = ? AND tenant = ?"
                " UNION ALL SELECT r.id, r.previous_id, c.depth + 1 FROM responses r JOIN chain c"
                " ON r.id = c.previous_id WHERE r.tenant = ? AND c.depth + 1 < ?)"
                " SELECT id FROM chain ORDER BY depth DESC", (response_id, tenant, tenant, MAX_CHAIN))]
            return _responses(conn, tenant, list(dict.fromkeys(ids)))

        found = await self._read(chain)
        if not found:
            return None
        return [Turn(r.id, r.previous_response_id, r.instructions, r.input_items, r.output_items) for r in found]

    # Conversations.

    async def create_conversation(self, tenant: str, conversation: Conversation,
                                  items: Sequence[JSONObject] = ()) -> None:
        check_items(items)
        now = self.clock()

        def create(conn: sqlite3.Connection) -> None:
            try:
                conn.execute("INSERT INTO conversations (id, tenant, created_at, metadata, changed_at) "
                             "VALUES (?, ?, ?, ?, ?)", (conversation.id, tenant, conversation.created_at,
                                                        orjson.dumps(conversation.metadata), now))
            except sqlite3.IntegrityError:
                raise IdTaken(conversation.id) from None
            _append(conn, tenant, conversation.id, items, 0)

        await self._writer(create)

    async def get_conversation(self, tenant: str, conversation_id: str) -> Conversation | None:
        row = await self._read(lambda conn: conn.execute(
            "SELECT created_at, metadata FROM conversations WHERE id = ? AND tenant = ?",
            (conversation_id, tenant)).fetchone())
        return None if row is None else Conversation(conversation_id, row[0], orjson.loads(row[1]))

    async def update_conversation(self, tenant: str, conversation_id: str,
                                  metadata: dict[str, str]) -> Conversation | None:
        now = self.clock()

        def update(conn: sqlite3.Connection) -> Conversation | None:
            row = conn.execute(
                "UPDATE conversations SET metadata = ?, changed_at = ? WHERE id = ? AND tenant = ? "
                "RETURNING created_at",
                (orjson.dumps(metadata), now, conversation_id, tenant)).fetchone()
            return None if row is None else Conversation(conversation_id, row[0], dict(metadata))

        return await self._writer(update)

    async def delete_conversation(self, tenant: str, conversation_id: str) -> bool:
        def delete(conn: sqlite3.Connection) -> bool:
            if conn.execute("DELETE FROM conversations WHERE id = ? AND tenant = ?",
                            (conversation_id, tenant)).rowcount == 0:
                return False
            conn.execute("DELETE FROM items WHERE owner = ? AND kind = ?", (conversation_id, CONVERSATION))
            return True

        return await self._writer(delete)

    async def list_conversation_items(self, tenant: str, conversation_id: str, page: PageRequest) -> Page | None:
        def list_(conn: sqlite3.Connection) -> Page | None:
            if conn.execute("SELECT 1 FROM conversations WHERE id = ? AND tenant = ?",
                            (conversation_id, tenant)).fetchone():
                return _page(conn, conversation_id, CONVERSATION, page)
            return None

        return await self._read(list_)

    async def append_conversation_items(self, tenant: str, conversation_id: str,
                                        items: Sequence[JSONObject]) -> bool:
        check_items(items)
        now = self.clock()

        def append(conn: sqlite3.Connection) -> bool:
            if conn.execute("UPDATE conversations SET changed_at = ? WHERE id = ? AND tenant = ?",
                            (now, conversation_id, tenant)).rowcount == 0:
                return False
            (last,) = conn.execute("SELECT max(pos) FROM items WHERE owner = ? AND kind = ?",
                                   (conversation_id, CONVERSATION)).fetchone()
            _append(conn, tenant, conversation_id, items, 0 if last is None else last + 1)
            return True

        return await self._writer(append)

    async def get_conversation_item(self, tenant: str, conversation_id: str, item_id: str) -> JSONObject | None:
        row = await self._read(lambda conn: conn.execute(
            "SELECT i.body FROM items i JOIN conversations c ON c.id = i.owner AND c.tenant = i.tenant "
            "WHERE i.owner = ? AND i.kind = ? AND i.tenant = ? AND i.item_id = ? ORDER BY i.pos LIMIT 1",
            (conversation_id, CONVERSATION, tenant, item_id)).fetchone())
        return None if row is None else orjson.loads(row[0])

    async def delete_conversation_item(self, tenant: str, conversation_id: str, item_id: str) -> bool:
        now = self.clock()

        def delete(conn: sqlite3.Connection) -> bool:
            if conn.execute("UPDATE conversations SET changed_at = ? WHERE id = ? AND tenant = ?",
                            (now, conversation_id, tenant)).rowcount == 0:
                return False
            return conn.execute(
                "DELETE FROM items WHERE seq = (SELECT seq FROM items WHERE owner = ? AND kind = ? AND item_id = ? "
                "ORDER BY pos LIMIT 1)", (conversation_id, CONVERSATION, item_id)).rowcount > 0

        return await self._writer(delete)

    async def expire(self, ttl: float) -> int:
        cutoff = self.clock() - ttl

        def expire(conn: sqlite3.Connection) -> int:
            gone = 0
            for (response_id, tenant) in conn.execute(
                    "DELETE FROM responses WHERE stored_at < ? RETURNING id, tenant", (cutoff,)).fetchall():
                conn.execute("DELETE FROM items WHERE owner = ? AND kind IN (?, ?)", (response_id, INPUT, OUTPUT))
                _delete_run(conn, tenant, response_id)
                gone += 1
            for (conversation_id,) in conn.execute(
                    "DELETE FROM conversations WHERE changed_at < ? RETURNING id", (cutoff,)).fetchall():
                conn.execute("DELETE FROM items WHERE owner = ? AND kind = ?", (conversation_id, CONVERSATION))
                gone += 1
            for (tenant, response_id) in conn.execute(
                    "SELECT tenant, response_id FROM runs WHERE changed_at < ?", (cutoff,)).fetchall():
                _delete_run(conn, tenant, response_id)
            return gone

        return await self._writer(expire)

    # Live state of runs.

    def _touch_run(self, conn: sqlite3.Connection, tenant: str, response_id: str, now: float, column: str = "") -> None:
        flag = f", {column} = 1" if column else ""
        conn.execute(f"INSERT INTO runs (tenant, response_id, changed_at{', ' + column if column else ''}) "
                     f"VALUES (?, ?, ?{', 1' if column else ''}) ON CONFLICT (tenant, response_id) "
                     f"DO UPDATE SET changed_at = excluded.changed_at{flag}", (tenant, response_id, now))

    async def append_events(self, tenant: str, response_id: str, events: Sequence[tuple[int, bytes]]) -> None:
        now = self.clock()

        def append(conn: sqlite3.Connection) -> None:
            self._touch_run(conn, tenant, response_id, now)
            conn.executemany("INSERT INTO run_events (tenant, response_id, seq, body) VALUES (?, ?, ?, ?)",
                             [(tenant, response_id, n, bytes(data)) for n, data in events])

        await self._writer(append)
        self._signals.notify(f"events {tenant} {response_id}")

    async def finish_events(self, tenant: str, response_id: str) -> None:
        now = self.clock()
        await self._writer(lambda conn: self._touch_run(conn, tenant, response_id, now, "finished"))
        self._signals.notify(f"events {tenant} {response_id}")

    async def read_events(self, tenant: str, response_id: str, after: int = -1, *, wait: float = 0) -> Events:
        def read(conn: sqlite3.Connection) -> Events:
            rows = conn.execute("SELECT seq, body FROM run_events WHERE tenant = ? AND response_id = ? AND seq > ? "
                                "ORDER BY seq", (tenant, response_id, after)).fetchall()
            finished = conn.execute("SELECT finished FROM runs WHERE tenant = ? AND response_id = ?",
                                    (tenant, response_id)).fetchone()
            return Events([(n, bytes(data)) for n, data in rows], bool(finished and finished[0]))

        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            found = await self._read(read)
            left = deadline - loop.time()
            if found.events or found.finished or left <= 0:
                return found
            await self._signals.wait(f"events {tenant} {response_id}", min(left, self.poll))

    async def cancel(self, tenant: str, response_id: str) -> None:
        now = self.clock()
        await self._writer(lambda conn: self._touch_run(conn, tenant, response_id, now, "cancelled"))
        self._signals.notify(f"cancel {tenant} {response_id}")

    async def is_cancelled(self, tenant: str, response_id: str) -> bool:
        row = await self._read(lambda conn: conn.execute(
            "SELECT cancelled FROM runs WHERE tenant = ? AND response_id = ?", (tenant, response_id)).fetchone())
        return bool(row and row[0])

    async def wait_cancelled(self, tenant: str, response_id: str) -> None:
        while not await self.is_cancelled(tenant, response_id):
            await self._signals.wait(f"cancel {tenant} {response_id}", self.poll)


def _create_schema(conn: sqlite3.Connection) -> None:
    # Statement by statement: executescript() would commit the writer's transaction first.
    for statement in SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    if conn.execute("SELECT count(*) FROM schema_version").fetchone()[0] == 0:
        conn.execute("INSERT INTO schema_version (version) VALUES (?)", (VERSION,))


def _responses(conn: sqlite3.Connection, tenant: str, ids: list[str]) -> list[StoredResponse]:
    """The responses with these ids (of this tenant), in the order of `ids`."""
    if not ids:
        return []
    marks = ", ".join("?" * len(ids))
    rows = {row[0]: row for row in conn.execute(
        f"SELECT id, body, previous_id FROM responses WHERE tenant = ? AND id IN ({marks})", (tenant, *ids))}
    items: dict[str, list[tuple[str, bytes]]] = {}
    for owner, kind, data in conn.execute(
            f"SELECT owner, kind, body FROM items WHERE tenant = ? AND kind IN (?, ?) AND owner IN ({marks}) "
            "ORDER BY owner, kind, pos", (tenant, INPUT, OUTPUT, *ids)):
        items.setdefault(owner, []).append((kind, data))
    return [joined(i, rows[i][1], rows[i][2], items.get(i, [])) for i in ids if i in rows]


def _page(conn: sqlite3.Connection, owner: str, kind: str, page: PageRequest) -> Page:
    def position(item_id: str) -> int | None:
        row = conn.execute("SELECT pos FROM items WHERE owner = ? AND kind = ? AND item_id = ? ORDER BY pos LIMIT 1",
                           (owner, kind, item_id)).fetchone()
        return None if row is None else int(row[0])

    limits = bounds(page, position)
    if isinstance(limits, str):
        cursor = page.after if limits == "after" else page.before
        raise InvalidRequest(f"No item with id '{cursor}' in this list.", param=limits)
    low, high = limits
    sql = "SELECT body FROM items WHERE owner = ? AND kind = ?"
    args: list[object] = [owner, kind]
    if low is not None:
        sql += " AND pos > ?"
        args.append(low)
    if high is not None:
        sql += " AND pos < ?"
        args.append(high)
    sql += f" ORDER BY pos {'ASC' if page.order == 'asc' else 'DESC'} LIMIT ?"
    args.append(page.limit + 1)
    return page_of([orjson.loads(row[0]) for row in conn.execute(sql, args)], page.limit)


def _append(conn: sqlite3.Connection, tenant: str, conversation_id: str, items: Sequence[JSONObject],
            start: int) -> None:
    conn.executemany("INSERT INTO items (owner, kind, pos, tenant, item_id, body) VALUES (?, ?, ?, ?, ?, ?)",
                     [(conversation_id, CONVERSATION, start + n, tenant, str(item["id"]), orjson.dumps(item))
                      for n, item in enumerate(items)])


def _delete_run(conn: sqlite3.Connection, tenant: str, response_id: str) -> None:
    conn.execute("DELETE FROM runs WHERE tenant = ? AND response_id = ?", (tenant, response_id))
    conn.execute("DELETE FROM run_events WHERE tenant = ? AND response_id = ?", (tenant, response_id))
