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
- the awaiters of a batch are woken with one call per event loop, not one per job.

And the common write does not go to the thread at all. Handing a job to another thread costs far more than the
job: the thread must be scheduled (on a machine whose cores are busy, a slice of the OS scheduler: measured at
8 to 11 ms per put under the benchmark's load on 2 cores, for 0.05 ms of SQLite work), and then get the GIL.
So with `inline` (WAL and `synchronous=normal`: a commit writes the WAL in the page cache and never syncs), a
one-statement job runs on the event loop's own connection, when nothing of this writer is queued (so writes
keep their order) and SQLite can take it at once: that connection never waits for a lock (busy timeout 0: a
write another process holds the lock for goes to the thread, which waits for it) and never checkpoints (its
`wal_autocheckpoint` is off; the thread checkpoints every `CHECKPOINT_EVERY` inline commits, the only writes
that sync). What the loop spends is the statement's CPU time and one write() to the page cache."""

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
CHECKPOINT_EVERY = 1000  # inline commits between two checkpoints run by the thread
MAX_WAL_PAGES = 16384  # 64 MB of 4 KB pages


@dataclass(slots=True)
class _Job:
    run: Callable[[sqlite3.Connection], Any]
    single: bool  # one SQL statement: atomic without a transaction of its own
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    settled: Callable[[int], None]  # told, on the loop, how many of its ordered jobs have been settled
    ordered: bool


type _Outcome = tuple[object, BaseException | None]


class Writer:
    def __init__(self, connect: Callable[[], sqlite3.Connection],
                 inline: Callable[[], sqlite3.Connection] | None = None) -> None:
        """`connect` opens the thread's connection; `inline`, when given, opens the event loop's (see above)."""
        self._connect = connect
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="bridge-store-writer", daemon=True)
        self._started = False
        self._open_inline = inline
        self._inline: sqlite3.Connection | None = None
        self._pending = 0  # jobs handed to the thread and not yet settled
        self._since_checkpoint = 0

    async def __call__[T](self, job: Callable[[sqlite3.Connection], T], *, single: bool = False) -> T:
        """Runs `job` on a write connection and returns what it returned, once committed. `single`: the
        job executes exactly one SQL statement (its triggers included), so it needs no transaction alone.
        A job may run twice (again, alone, after another job of its batch failed and the batch was rolled
        back; or in the thread after SQLite was busy for it inline): it does nothing but SQL on the connection."""
        if single and self._pending == 0 and self._open_inline is not None:
            done, result = self._run_inline(job)
            if done:
                await asyncio.sleep(0)  # a write is an await that yields, as any other: a loop of them starves no one
                return result  # type: ignore[no-any-return]
        return await asyncio.shield(self._enqueue(job, single))

    def _enqueue[T](self, job: Callable[[sqlite3.Connection], T], single: bool,
                    ordered: bool = True) -> asyncio.Future[T]:
        """`ordered`: later writes must not overtake this one (every write but a checkpoint)."""
        if not self._started:
            self._started = True
            self._thread.start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._pending += ordered
        self._queue.put(_Job(job, single, loop, future, self._settled, ordered))
        return future

    def open_inline(self) -> None:
        """Opens the event loop's connection (call it in a thread: opening a file may wait on the disk); else the
        first inline job opens it."""
        if self._open_inline is not None and self._inline is None:
            self._inline = self._open_inline()

    def _run_inline(self, job: Callable[[sqlite3.Connection], Any]) -> tuple[bool, Any]:
        """(True, what `job` returned) once committed here; (False, None) when SQLite was busy for it."""
        self.open_inline()
        conn = self._inline
        assert conn is not None
        try:
            result = job(conn)
        except sqlite3.OperationalError as exc:
            if conn.in_transaction:
                conn.rollback()
            if exc.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                return False, None
            raise
        self._since_checkpoint += 1
        if self._since_checkpoint >= CHECKPOINT_EVERY:
            self._since_checkpoint = 0
            checkpoint = self._enqueue(_checkpoint, True, ordered=False)  # inline writes go on meanwhile
            checkpoint.add_done_callback(_quiet)
        return True, result

    def _settled(self, count: int) -> None:
        self._pending -= count

    async def close(self) -> None:
        if self._started:
            self._queue.put(None)
            await asyncio.to_thread(self._thread.join)
        if self._inline is not None:
            self._inline.close()

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
    ordered = sum(job.ordered for job in batch)
    for loop, settled in by_loop.items():
        with contextlib.suppress(RuntimeError):  # RuntimeError: that loop has closed, nobody waits any more
            loop.call_soon_threadsafe(_settle_all, settled, batch[0].settled, ordered)


def _settle_all(settled: list[tuple[asyncio.Future[Any], object, BaseException | None]],
                count: Callable[[int], None], ordered: int) -> None:
    count(ordered)
    for future, result, error in settled:
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)


def _checkpoint(conn: sqlite3.Connection) -> None:
    """Copies the WAL into the database without stopping anyone; a WAL that still outgrew `MAX_WAL_PAGES`
    (writes that never paused long enough for it to start over) is then emptied, the writers waiting meanwhile
    (those inline go to this thread while it runs)."""
    busy, wal_pages, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    if busy or wal_pages > MAX_WAL_PAGES:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _quiet(future: asyncio.Future[Any]) -> None:
    """A checkpoint nobody awaits: its failure (the next one may succeed) is retrieved, not left to warn."""
    if not future.cancelled():
        future.exception()
