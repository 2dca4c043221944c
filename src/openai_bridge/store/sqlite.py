"""The embedded default: one SQLite file (`BRIDGE_STORE=sqlite:///path`; by default `store.sqlite3` in
BRIDGE_STATE_DIR), shared by the workers of one machine. WAL mode: readers never wait for the writer, nor the
writer for them. The event loop never waits on the file: a one-statement write (a put, a delete) runs on the
loop's own connection when SQLite can take it at once and no sync is due (`synchronous=normal`: a write() to
the page cache); every other write, and any SQLite was busy for, goes through one writer thread, which also
checkpoints (store/sqlite_writer.py says why); reads go through a small pool of reader threads with a
connection each.

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
import zstandard

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
    paginate,
)
from .signals import Signals
from .sql import bounds, from_record, record
from .sqlite_writer import Writer

# The `[item_id, kind, pos]` of a response's items that have a string id: its input items ('i'), then its output
# items ('o'), each in order (the order `items.seq` then numbers them in); kept beside the compressed record, so
# that the triggers index them without reading it.
_ADD_ITEMS = ("INSERT INTO items (tenant, item_id, owner, kind, pos) SELECT NEW.tenant, value ->> 0, NEW.id, "
              "value ->> 1, value ->> 2 FROM json_each(NEW.item_ids);")
_DROP_ITEMS = ("DELETE FROM items WHERE item_id IN (SELECT value ->> 0 FROM json_each(OLD.item_ids)) "
               "AND owner = OLD.id AND kind IN ('i', 'o');")

# A response is one row: its record (sql.record: the response object with its output, and its input items) as
# JSON, zstd-compressed (a few KB become one or two: the row fits its leaf page, and a commit writes fewer pages),
# and its item ids. So a put is one statement; triggers keep `items`, the index of item ids that `get_item` looks in,
# and delete what goes with a response (its run's live state). `items` also holds conversations' items
# (kind 'c', with their JSON), which are rows of their own: a conversation grows by appends.
SCHEMA = [
    "CREATE TABLE IF NOT EXISTS responses (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, previous_id TEXT, "
    "stored_at REAL NOT NULL, item_ids TEXT NOT NULL, body BLOB NOT NULL)",
    # No index on stored_at: `expire` scans the table once an hour, and a put touches one B-tree less (each
    # B-tree a commit touches is a page more to write: measured 122 -> 72 us a put).
    # seq: the order items were stored in (the newest wins in get_item); a rowid, so no AUTOINCREMENT needed.
    "CREATE TABLE IF NOT EXISTS items (seq INTEGER PRIMARY KEY, tenant TEXT NOT NULL, item_id TEXT NOT NULL, "
    "owner TEXT NOT NULL, kind TEXT NOT NULL, pos INTEGER NOT NULL, body BLOB)",
    # By item id alone (ids are random; the tenant is checked on the row): a shorter key, a cheaper put.
    "CREATE INDEX IF NOT EXISTS items_by_id ON items (item_id)",
    "CREATE INDEX IF NOT EXISTS conversation_items ON items (owner, pos) WHERE kind = 'c'",
    "CREATE TABLE IF NOT EXISTS conversations (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, "
    "created_at INTEGER NOT NULL, metadata BLOB NOT NULL, changed_at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS conversations_changed_at ON conversations (changed_at)",
    "CREATE TABLE IF NOT EXISTS runs (tenant TEXT NOT NULL, response_id TEXT NOT NULL, "
    "finished INTEGER NOT NULL DEFAULT 0, cancelled INTEGER NOT NULL DEFAULT 0, changed_at REAL NOT NULL, beat REAL, "
    "PRIMARY KEY (tenant, response_id)) WITHOUT ROWID",
    # at: when the event was recorded, for the run's changed_at (a trigger keeps it, so an append is one statement).
    "CREATE TABLE IF NOT EXISTS run_events (tenant TEXT NOT NULL, response_id TEXT NOT NULL, seq INTEGER NOT NULL, "
    "body BLOB NOT NULL, at REAL NOT NULL, PRIMARY KEY (tenant, response_id, seq)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
    f"CREATE TRIGGER IF NOT EXISTS response_added AFTER INSERT ON responses BEGIN {_ADD_ITEMS} END",
    f"CREATE TRIGGER IF NOT EXISTS response_replaced AFTER UPDATE OF item_ids ON responses BEGIN {_DROP_ITEMS} "
    f"{_ADD_ITEMS} END",
    f"CREATE TRIGGER IF NOT EXISTS response_deleted AFTER DELETE ON responses BEGIN {_DROP_ITEMS} "
    "DELETE FROM runs WHERE tenant = OLD.tenant AND response_id = OLD.id; END",
    "CREATE TRIGGER IF NOT EXISTS conversation_deleted AFTER DELETE ON conversations BEGIN "
    "DELETE FROM items WHERE owner = OLD.id AND kind = 'c'; END",
    "CREATE TRIGGER IF NOT EXISTS run_deleted AFTER DELETE ON runs BEGIN "
    "DELETE FROM run_events WHERE tenant = OLD.tenant AND response_id = OLD.response_id; END",
    "CREATE TRIGGER IF NOT EXISTS run_event_added AFTER INSERT ON run_events BEGIN "
    "INSERT INTO runs (tenant, response_id, changed_at) VALUES (NEW.tenant, NEW.response_id, NEW.at) "
    "ON CONFLICT (tenant, response_id) DO UPDATE SET changed_at = excluded.changed_at; END",
]
# 3: a response's record compressed, its item ids beside it (2: the record as JSON text; 1: item rows).
# 1 and 2 were development versions, never released.
VERSION = 3


class StoreSchemaError(RuntimeError):
    """The file holds a store of another schema version than this bridge's."""
# Rows per INSERT of several rows (SQLite takes at most 32766 parameters in one statement).
CHUNK = 500

Synchronous = Literal["normal", "full"]


class SQLiteStore:
    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time, poll: float = 0.2,
                 synchronous: Synchronous = "normal") -> None:
        self.path = path
        self.clock = clock
        self.poll = poll
        self.synchronous = synchronous
        # Inline writes only where a commit never syncs (see store/sqlite_writer.py).
        self._writer = Writer(self._connect, self._connect_inline if synchronous == "normal" else None)
        self._readers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="bridge-store-reader")
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._signals = Signals()
        self._compress = zstandard.ZstdCompressor(level=1).compress  # on the event loop only: one is enough

    @classmethod
    async def open(cls, path: Path, **options: object) -> SQLiteStore:
        """A store on `path` (made, with its directory, if missing), its schema created."""
        store = cls(path, **options)  # type: ignore[arg-type]
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        try:
            await store._writer(_create_schema)
            await asyncio.to_thread(store._writer.open_inline)
        except BaseException:
            await store.close()
            raise
        return store

    def _connect(self, timeout: float = 30) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=timeout)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self.synchronous.upper()}")
        conn.execute("PRAGMA foreign_keys=OFF")
        return conn

    def _connect_inline(self) -> sqlite3.Connection:
        """The event loop's write connection (see store/sqlite_writer.py): never waits for a lock, never
        checkpoints."""
        conn = self._connect(timeout=0)
        conn.execute("PRAGMA wal_autocheckpoint=0")
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
        args = (response.id, tenant, response.previous_response_id, self.clock(), _item_ids(response),
                self._compress(record(response).encode()))

        def put(conn: sqlite3.Connection) -> None:
            # One statement (the triggers index the items): replaced only when the same tenant owns the id.
            if conn.execute(
                    "INSERT INTO responses (id, tenant, previous_id, stored_at, item_ids, body) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET previous_id = excluded.previous_id, "
                    "stored_at = excluded.stored_at, item_ids = excluded.item_ids, body = excluded.body "
                    "WHERE responses.tenant = excluded.tenant", args).rowcount == 0:
                raise IdTaken(response.id)

        await self._writer(put, single=True)

    async def get_response(self, tenant: str, response_id: str) -> StoredResponse | None:
        row = await self._read(lambda conn: conn.execute(
            "SELECT previous_id, body FROM responses WHERE id = ? AND tenant = ?", (response_id, tenant)).fetchone())
        return None if row is None else from_record(response_id, row[0], _decompress(row[1]))

    async def delete_response(self, tenant: str, response_id: str) -> bool:
        return await self._writer(lambda conn: conn.execute(
            "DELETE FROM responses WHERE id = ? AND tenant = ?", (response_id, tenant)).rowcount > 0, single=True)

    async def list_input_items(self, tenant: str, response_id: str, page: PageRequest) -> Page | None:
        found = await self.get_response(tenant, response_id)
        return None if found is None else paginate(found.input_items, page)

    async def get_item(self, tenant: str, item_id: str) -> JSONObject | None:
        row = await self._read(lambda conn: conn.execute(
            "SELECT i.kind, i.pos, iif(i.kind = 'c', i.body, r.body) FROM items i LEFT JOIN responses r "
            "ON r.id = i.owner AND i.kind IN ('i', 'o') WHERE i.item_id = ? AND i.tenant = ? "
            "ORDER BY i.seq DESC LIMIT 1", (item_id, tenant)).fetchone())
        if row is None or row[2] is None:
            return None
        kind, pos, body = row
        if kind == "c":
            return orjson.loads(body)  # type: ignore[no-any-return]
        found = from_record("", None, _decompress(body))
        items = found.input_items if kind == "i" else found.output_items
        return items[pos] if pos < len(items) else None

    async def chain(self, tenant: str, response_id: str) -> list[Turn] | None:
        def chain(conn: sqlite3.Connection) -> list[tuple[str, str | None, bytes]]:
            return conn.execute(
                "WITH RECURSIVE chain (id, previous_id, depth) AS ("
                " SELECT id, previous_id, 0 FROM responses WHERE id = ? AND tenant = ?"
                " UNION ALL SELECT r.id, r.previous_id, c.depth + 1 FROM responses r JOIN chain c"
                " ON r.id = c.previous_id WHERE r.tenant = ? AND c.depth + 1 < ?)"
                " SELECT c.id, c.previous_id, r.body FROM chain c JOIN responses r ON r.id = c.id"
                " ORDER BY c.depth DESC", (response_id, tenant, tenant, MAX_CHAIN)).fetchall()

        rows = await self._read(chain)
        if not rows:
            return None
        turns: dict[str, Turn] = {}
        for rid, previous_id, body in rows:  # oldest first; a cycle repeats ids: the oldest place counts
            if rid not in turns:
                r = from_record(rid, previous_id, _decompress(body))
                turns[rid] = Turn(r.id, r.previous_response_id, r.instructions, r.input_items, r.output_items)
        return list(turns.values())

    # Conversations.

    async def create_conversation(self, tenant: str, conversation: Conversation,
                                  items: Sequence[JSONObject] = ()) -> None:
        check_items(items)
        now = self.clock()
        rows = _conversation_rows(tenant, conversation.id, items, 0)

        def create(conn: sqlite3.Connection) -> None:
            try:
                conn.execute("INSERT INTO conversations (id, tenant, created_at, metadata, changed_at) "
                             "VALUES (?, ?, ?, ?, ?)", (conversation.id, tenant, conversation.created_at,
                                                        orjson.dumps(conversation.metadata), now))
            except sqlite3.IntegrityError:
                raise IdTaken(conversation.id) from None
            _insert_items(conn, rows)

        await self._writer(create, single=not rows)

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

        return await self._writer(update, single=True)

    async def delete_conversation(self, tenant: str, conversation_id: str) -> bool:
        return await self._writer(lambda conn: conn.execute(
            "DELETE FROM conversations WHERE id = ? AND tenant = ?", (conversation_id, tenant)).rowcount > 0,
            single=True)

    async def list_conversation_items(self, tenant: str, conversation_id: str, page: PageRequest) -> Page | None:
        def list_(conn: sqlite3.Connection) -> Page | None:
            if conn.execute("SELECT 1 FROM conversations WHERE id = ? AND tenant = ?",
                            (conversation_id, tenant)).fetchone():
                return _page(conn, conversation_id, page)
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
            (last,) = conn.execute("SELECT max(pos) FROM items WHERE owner = ? AND kind = 'c'",
                                   (conversation_id,)).fetchone()
            _insert_items(conn, _conversation_rows(tenant, conversation_id, items, 0 if last is None else last + 1))
            return True

        return await self._writer(append)

    async def get_conversation_item(self, tenant: str, conversation_id: str, item_id: str) -> JSONObject | None:
        row = await self._read(lambda conn: conn.execute(
            "SELECT body FROM items WHERE owner = ? AND kind = 'c' AND tenant = ? AND item_id = ? ORDER BY pos "
            "LIMIT 1", (conversation_id, tenant, item_id)).fetchone())
        return None if row is None else orjson.loads(row[0])

    async def delete_conversation_item(self, tenant: str, conversation_id: str, item_id: str) -> bool:
        now = self.clock()

        def delete(conn: sqlite3.Connection) -> bool:
            if conn.execute("UPDATE conversations SET changed_at = ? WHERE id = ? AND tenant = ?",
                            (now, conversation_id, tenant)).rowcount == 0:
                return False
            return conn.execute(
                "DELETE FROM items WHERE seq = (SELECT seq FROM items WHERE owner = ? AND kind = 'c' AND item_id = ? "
                "ORDER BY pos LIMIT 1)", (conversation_id, item_id)).rowcount > 0

        return await self._writer(delete)

    async def expire(self, ttl: float) -> int:
        cutoff = self.clock() - ttl

        def expire(conn: sqlite3.Connection) -> int:
            # Triggers delete the items of what goes, and a response's run with its events.
            gone = conn.execute("DELETE FROM responses WHERE stored_at < ?", (cutoff,)).rowcount
            gone += conn.execute("DELETE FROM conversations WHERE changed_at < ?", (cutoff,)).rowcount
            conn.execute("DELETE FROM runs WHERE changed_at < ?", (cutoff,))
            return gone

        return await self._writer(expire)

    # Live state of runs.

    async def append_events(self, tenant: str, response_id: str, events: Sequence[tuple[int, bytes]]) -> None:
        now = self.clock()
        rows = [(tenant, response_id, int(n), bytes(data), now) for n, data in events]
        if rows:
            # One statement per CHUNK events (a trigger touches the run's row): usually one in all.
            await self._writer(lambda conn: _insert(conn, "run_events (tenant, response_id, seq, body, at)", rows),
                               single=len(rows) <= CHUNK)
        self._signals.notify(f"events {tenant} {response_id}")

    async def _flag_run(self, tenant: str, response_id: str, column: Literal["finished", "cancelled"]) -> None:
        args = (tenant, response_id, self.clock())
        await self._writer(lambda conn: conn.execute(
            f"INSERT INTO runs (tenant, response_id, changed_at, {column}) VALUES (?, ?, ?, 1) "
            f"ON CONFLICT (tenant, response_id) DO UPDATE SET changed_at = excluded.changed_at, {column} = 1",
            args), single=True)

    async def finish_events(self, tenant: str, response_id: str) -> None:
        await self._flag_run(tenant, response_id, "finished")
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

    async def beat(self, tenant: str, response_id: str) -> None:
        args = (tenant, response_id, now := self.clock(), now)
        await self._writer(lambda conn: conn.execute(
            "INSERT INTO runs (tenant, response_id, changed_at, beat) VALUES (?, ?, ?, ?) ON CONFLICT "
            "(tenant, response_id) DO UPDATE SET changed_at = excluded.changed_at, beat = excluded.beat", args),
            single=True)

    async def last_beat(self, tenant: str, response_id: str) -> float | None:
        row = await self._read(lambda conn: conn.execute(
            "SELECT beat FROM runs WHERE tenant = ? AND response_id = ?", (tenant, response_id)).fetchone())
        return None if row is None else row[0]

    async def cancel(self, tenant: str, response_id: str) -> None:
        await self._flag_run(tenant, response_id, "cancelled")
        self._signals.notify(f"cancel {tenant} {response_id}")

    async def is_cancelled(self, tenant: str, response_id: str) -> bool:
        row = await self._read(lambda conn: conn.execute(
            "SELECT cancelled FROM runs WHERE tenant = ? AND response_id = ?", (tenant, response_id)).fetchone())
        return bool(row and row[0])

    async def wait_cancelled(self, tenant: str, response_id: str) -> None:
        while not await self.is_cancelled(tenant, response_id):
            await self._signals.wait(f"cancel {tenant} {response_id}", self.poll)


def _item_ids(response: StoredResponse) -> str:
    """The `[item_id, kind, pos]` of the response's items with a string id, as JSON (see `_ADD_ITEMS`)."""
    ids = [[i["id"], "i", n] for n, i in enumerate(response.input_items) if isinstance(i.get("id"), str)]
    ids += [[i["id"], "o", n] for n, i in enumerate(response.output_items) if isinstance(i.get("id"), str)]
    return orjson.dumps(ids).decode()


def _decompress(body: bytes) -> bytes:
    # A decompressor per call: the reader threads share none (zstandard's are not thread-safe); it costs
    # microseconds.
    return zstandard.ZstdDecompressor().decompress(body)


def _create_schema(conn: sqlite3.Connection) -> None:
    # Statement by statement: executescript() would commit the writer's transaction first.
    for statement in SCHEMA:
        conn.execute(statement)
    found = conn.execute("SELECT max(version) FROM schema_version").fetchone()[0]
    if found is None:
        conn.execute("INSERT INTO schema_version (version) VALUES (?)", (VERSION,))
    elif found != VERSION:
        raise StoreSchemaError(f"the store {conn.execute('PRAGMA database_list').fetchone()[2]} has schema version "
                               f"{found}, and this bridge knows version {VERSION} only (versions 1 and 2 were "
                               "development versions, never released): move the file away, or set BRIDGE_STORE to "
                               "another one")


def _page(conn: sqlite3.Connection, conversation_id: str, page: PageRequest) -> Page:
    # `kind = 'c'` written out, never bound: so SQLite sees that the partial index `conversation_items` applies.
    def position(item_id: str) -> int | None:
        row = conn.execute("SELECT pos FROM items WHERE owner = ? AND kind = 'c' AND item_id = ? ORDER BY pos LIMIT 1",
                           (conversation_id, item_id)).fetchone()
        return None if row is None else int(row[0])

    limits = bounds(page, position)
    if isinstance(limits, str):
        cursor = page.after if limits == "after" else page.before
        raise InvalidRequest(f"No item with id '{cursor}' in this list.", param=limits)
    low, high = limits
    sql = "SELECT body FROM items WHERE owner = ? AND kind = 'c'"
    args: list[object] = [conversation_id]
    if low is not None:
        sql += " AND pos > ?"
        args.append(low)
    if high is not None:
        sql += " AND pos < ?"
        args.append(high)
    sql += f" ORDER BY pos {'ASC' if page.order == 'asc' else 'DESC'} LIMIT ?"
    args.append(page.limit + 1)
    return page_of([orjson.loads(row[0]) for row in conn.execute(sql, args)], page.limit)


def _conversation_rows(tenant: str, conversation_id: str, items: Sequence[JSONObject],
                       start: int) -> list[tuple[object, ...]]:
    return [(tenant, str(item["id"]), conversation_id, "c", start + n, orjson.dumps(item))
            for n, item in enumerate(items)]


def _insert_items(conn: sqlite3.Connection, rows: list[tuple[object, ...]]) -> None:
    _insert(conn, "items (tenant, item_id, owner, kind, pos, body)", rows)


def _insert(conn: sqlite3.Connection, into: str, rows: Sequence[tuple[object, ...]]) -> None:
    """Rows inserted with one statement per CHUNK of them (not one per row, as executemany would)."""
    for n in range(0, len(rows), CHUNK):
        chunk = rows[n:n + CHUNK]
        marks = "(" + ", ".join("?" * len(chunk[0])) + ")"
        conn.execute(f"INSERT INTO {into} VALUES {', '.join([marks] * len(chunk))}",
                     [value for row in chunk for value in row])
