"""SQLite's writes, off the event loop: one thread owns the write connection (SQLite allows one writer at a
time anyway). Jobs queue up and run in batches, one transaction and one commit per batch (a group commit:
under load, many puts share one fsync); each job runs in a savepoint, so one that fails fails alone. A job's
awaiter resumes only after the commit: what `await writer(job)` returned is on disk."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

type Job = tuple[Callable[[sqlite3.Connection], Any], asyncio.AbstractEventLoop, asyncio.Future[Any]]

MAX_BATCH = 256


class Writer:
    def __init__(self, connect: Callable[[], sqlite3.Connection]) -> None:
        self._connect = connect
        self._queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="bridge-store-writer", daemon=True)
        self._started = False

    async def __call__[T](self, job: Callable[[sqlite3.Connection], T]) -> T:
        if not self._started:
            self._started = True
            self._thread.start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((job, loop, future))
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
                self._run_batch(conn, batch)
                if stop:
                    return
        finally:
            conn.close()

    @staticmethod
    def _run_batch(conn: sqlite3.Connection, batch: list[Job]) -> None:
        outcomes: list[tuple[object, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job, _, _ in batch:
                conn.execute("SAVEPOINT job")
                try:
                    outcomes.append((job(conn), None))
                    conn.execute("RELEASE job")
                except Exception as exc:
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    outcomes.append((None, exc))
            conn.execute("COMMIT")
        except Exception as exc:  # the commit itself (disk full, I/O error): nothing of the batch is stored
            if conn.in_transaction:
                conn.rollback()
            outcomes = [(None, exc)] * len(batch)
        for (_, loop, future), (result, error) in zip(batch, outcomes, strict=True):
            with contextlib.suppress(RuntimeError):  # RuntimeError: that loop has closed, nobody waits any more
                loop.call_soon_threadsafe(_settle, future, result, error)


def _settle(future: asyncio.Future[Any], result: object, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
