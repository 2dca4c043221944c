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
