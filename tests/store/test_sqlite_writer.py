"""The SQLite writer thread: jobs queued together run as one batch in one transaction, yet a job that fails
fails alone (its writes undone, the others' kept), and a one-statement job alone in its batch runs without a
transaction of its own."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from pathlib import Path

import pytest

from openai_bridge.store.sqlite_writer import Writer


def connector(path: Path):
    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        return conn

    return connect


def rows(path: Path) -> list[int]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return [r[0] for r in conn.execute("SELECT n FROM t ORDER BY n")]


def test_a_failing_job_fails_alone_and_the_rest_of_its_batch_is_stored(tmp_path: Path):
    path = tmp_path / "w.sqlite3"
    gate = threading.Event()

    async def main() -> None:
        writer = Writer(connector(path))
        await writer(lambda conn: conn.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)"))
        # The first job holds the thread, so the next three queue up behind it and run as one batch.
        blocker = asyncio.create_task(writer(lambda conn: gate.wait(30)))
        await asyncio.sleep(0.05)

        def insert(n: int):
            return lambda conn: conn.execute("INSERT INTO t VALUES (?)", (n,)).rowcount

        def fail(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO t VALUES (2)")  # undone: the job fails after it
            raise ValueError("no")

        jobs = [asyncio.create_task(writer(j)) for j in (insert(1), fail, insert(3), insert(1))]
        await asyncio.sleep(0.05)
        gate.set()
        await blocker
        done = await asyncio.gather(*jobs, return_exceptions=True)
        assert done[0] == 1 and done[2] == 1
        assert isinstance(done[1], ValueError)
        assert isinstance(done[3], sqlite3.IntegrityError)  # 1 is there: it sees what the jobs before it did
        await writer.close()

    asyncio.run(main())
    assert rows(path) == [1, 3]


def test_a_single_statement_job_alone_needs_no_transaction(tmp_path: Path):
    path = tmp_path / "w.sqlite3"

    async def main() -> None:
        writer = Writer(connector(path))
        await writer(lambda conn: conn.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)"))
        assert await writer(lambda conn: conn.in_transaction) is True
        assert await writer(lambda conn: conn.in_transaction, single=True) is False
        assert await writer(lambda conn: conn.execute("INSERT INTO t VALUES (7)").rowcount, single=True) == 1
        with pytest.raises(sqlite3.IntegrityError):
            await writer(lambda conn: conn.execute("INSERT INTO t VALUES (7)"), single=True)
        await writer.close()

    asyncio.run(main())
    assert rows(path) == [7]


def inline_connector(path: Path):
    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=0)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA wal_autocheckpoint=0")
        return conn

    return connect


def test_a_one_statement_write_runs_on_the_loop_when_sqlite_takes_it_at_once(tmp_path: Path):
    """No thread hand-over for it: the thread is not even started, and the write is committed when it returns."""
    path = tmp_path / "w.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)")

    async def main() -> None:
        writer = Writer(connector(path), inline_connector(path))
        loop_thread = threading.get_ident()
        assert await writer(lambda conn: (conn.execute("INSERT INTO t VALUES (1)"), threading.get_ident())[1],
                            single=True) == loop_thread
        assert rows(path) == [1]  # committed: another connection sees it
        assert not writer._thread.is_alive()
        with pytest.raises(sqlite3.IntegrityError):  # a failing statement fails its caller, as in the thread
            await writer(lambda conn: conn.execute("INSERT INTO t VALUES (1)"), single=True)
        await writer.close()

    asyncio.run(main())


def test_a_write_sqlite_is_busy_for_goes_to_the_thread_and_writes_keep_their_order(tmp_path: Path):
    """Another process holds the write lock: the loop's connection does not wait for it, the thread does; and
    while a write is with the thread, later ones queue behind it instead of overtaking it inline."""
    path = tmp_path / "w.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, v TEXT)")
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # as another worker's write in progress

    async def main() -> None:
        writer = Writer(connector(path), inline_connector(path))
        first = asyncio.create_task(writer(lambda conn: conn.execute("INSERT INTO t VALUES (1, 'first')"),
                                           single=True))
        await asyncio.sleep(0.1)
        assert not first.done() and writer._thread.is_alive()  # waiting in the thread, not on the loop
        second = asyncio.create_task(writer(lambda conn: conn.execute("UPDATE t SET v = 'second' WHERE n = 1"),
                                            single=True))
        await asyncio.sleep(0.05)
        holder.execute("COMMIT")
        await asyncio.gather(first, second)
        await writer.close()

    asyncio.run(main())
    holder.close()
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT v FROM t").fetchall() == [("second",)]  # the update came after the insert


def test_while_a_write_is_with_the_thread_later_ones_do_not_overtake_it_inline(tmp_path: Path):
    """(Here the thread's transaction holds the lock, so SQLite itself would send the later write to the thread;
    the writer's own count of writes under way closes the moments when no lock is held yet.)"""
    path = tmp_path / "w.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)")
    gate = threading.Event()

    async def main() -> None:
        writer = Writer(connector(path), inline_connector(path))
        slow = asyncio.create_task(writer(lambda conn: (gate.wait(30), conn.execute("INSERT INTO t VALUES (1)"))))
        await asyncio.sleep(0.05)
        later = asyncio.create_task(writer(lambda conn: conn.execute("INSERT INTO t VALUES (2)"), single=True))
        await asyncio.sleep(0.05)
        assert not later.done()  # queued behind the slow one, not committed inline before it
        gate.set()
        await asyncio.gather(slow, later)
        assert await writer(lambda conn: threading.get_ident(), single=True) == threading.get_ident()  # inline again
        await writer.close()

    asyncio.run(main())
    assert rows(path) == [1, 2]
