"""SQLite's writes, off the event loop: one thread owns the write connection (SQLite allows one writer at a
time anyway). Jobs queue up and run in batches, one transaction and one commit per batch (a group commit:
under load, many puts share one WAL write and, with synchronous=full, one fsync). A job's awaiter resumes only
after the commit: what `await writer(job)` returned is on disk.

Why so few statements: the writer shares the GIL with the event loop. Each sqlite3 call releases it around
SQLite's own work, and getting it back means waiting for the loop to let go of it, up to
`sys.getswitchinterval()` (5 ms) while the loop runs Python. So what a write costs under load is the number
of sqlite3 calls it makes, far more than the bytes it writes (bench/store_puts.py measures it). Hence:

- no savepoint per job: a batch runs in one transaction; if a job fails, the batch is rolled back and its jobs
  run again one by one, each in a transaction of its own, so the failing job still fails alone (and the
  others find the database as they would have);
- a job that is one SQL statement (`single=True`) and is alone in its batch runs without BEGIN/COMMIT:
  SQLite commits one statement atomically by itself;
- the awaiters of a batch are woken with one call per event loop, not one per job."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_BATCH = 256


@dataclass(slots=True)
class _Job:
    run: Callable[[sqlite3.Connection], Any]
    single: bool  # one SQL statement: atomic without a transaction of its own
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


type _Outcome = tuple[object, BaseException | None]


class Writer:
    def __init__(self, connect: Callable[[], sqlite3.Connection]) -> None:
        self._connect = connect
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="bridge-store-writer", daemon=True)
        self._started = False

    async def __call__[T](self, job: Callable[[sqlite3.Connection], T], *, single: bool = False) -> T:
        """Runs `job` on the write connection and returns what it returned, once committed. `single`: the
        job executes exactly one SQL statement (its triggers included), so it needs no transaction alone.
        A job may run twice (again, alone, after another job of its batch failed and the batch was rolled
        back): it does nothing but SQL on the connection."""
        if not self._started:
            self._started = True
            self._thread.start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Job(job, single, loop, future))
        # Shielded: a caller cancelled while its write is queued does not unqueue it, and the write stands.
        return await asyncio.shield(future)

    async def close(self) -> None:
        if self._started:
            self._queue.put(None)
            await asyncio.to_thread(self._thread.join)

    def _run(self) -> None:
        conn = self._connect()
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                batch = [first]
                stop = False
                while len(batch) < MAX_BATCH:
                    try:
                        job = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if job is None:
                        stop = True
                        break
                    batch.append(job)
                _settle(batch, _run_batch(conn, batch))
                if stop:
                    return
        finally:
            conn.close()


def _run_batch(conn: sqlite3.Connection, batch: list[_Job]) -> list[_Outcome]:
    if len(batch) == 1 and batch[0].single:
        try:
            return [(batch[0].run(conn), None)]
        except Exception as exc:
            if conn.in_transaction:  # not expected of one statement; never leave the connection in one
                conn.rollback()
            return [(None, exc)]
    try:
        conn.execute("BEGIN IMMEDIATE")
    except Exception as exc:  # the database stayed locked (by another process) past the timeout
        return [(None, exc)] * len(batch)
    try:
        results = [job.run(conn) for job in batch]
    except Exception as exc:
        conn.rollback()
        if len(batch) == 1:
            return [(None, exc)]
        # Each job again, alone: the one that failed fails by itself, the others are stored.
        return [outcome for job in batch for outcome in _run_batch(conn, [job])]
    try:
        conn.execute("COMMIT")
    except Exception as exc:  # disk full, I/O error: nothing of the batch is stored
        if conn.in_transaction:
            conn.rollback()
        return [(None, exc)] * len(batch)
    return [(result, None) for result in results]


def _settle(batch: list[_Job], outcomes: list[_Outcome]) -> None:
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], object, BaseException | None]]] = {}
    for job, (result, error) in zip(batch, outcomes, strict=True):
        by_loop.setdefault(job.loop, []).append((job.future, result, error))
    for loop, settled in by_loop.items():
        with contextlib.suppress(RuntimeError):  # RuntimeError: that loop has closed, nobody waits any more
            loop.call_soon_threadsafe(_settle_all, settled)


def _settle_all(settled: list[tuple[asyncio.Future[Any], object, BaseException | None]]) -> None:
    for future, result, error in settled:
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
