"""What storing responses costs a busy event loop: puts/s, and the loop's own progress with and without them.

    uv run python bench/store_puts.py [--backend sqlite] [--tasks 16] [--seconds 5] [--slice-ms 1]
                                      [--stream-slices 5] [--json]

The bridge's event loop is busy translating streams while the store writes (SQLite: in its writer thread).
The two share the GIL: each sqlite3 call that releases it (around sqlite3_step, sqlite3_reset, ...) hands
it to the loop, and the writer then waits for the loop to give it back, up to `sys.getswitchinterval()`
(5 ms) when the loop is running Python. So a put costs about "GIL-releasing calls x switch interval" of the
writer's time, whatever SQLite itself costs, and the loop pays for every hand-over too.

Simulated here, in one process, five phases of `--seconds` each:

- `loop alone`: `--spinners` coroutines each spin pure-Python `--slice-ms` slices, yielding with
  `asyncio.sleep(0)` between slices (each yield is an event-loop iteration, as the bridge's are). Counted:
  slices/s, the loop's progress.
- `loop + puts`: the same, while `--tasks` concurrent tasks each `put_response` a realistic response one after
  another (a fresh id each time: an input message, a reasoning item and an output message of a few hundred
  bytes each, in a response object shaped as the bridge serves it). Counted: puts/s, and slices/s again; the
  ratio of the two slices/s is what the puts cost the loop (the bridge's stream throughput store-on/store-off).
- `puts alone`: the puts with an idle loop, the writer's capacity without the convoy.
- `streams`: the bridge's case. `--tasks` concurrent "streams", each `--stream-slices` slices of loop work
  (yielding between them) and then, store on, a put awaited before the next stream starts (as the bridge
  stores a response before its terminal event). Counted: streams/s store-off and store-on; their ratio is
  the number the bridge's benchmark measures (target: >= 90 %).

For SQLite it also prints the writer thread's CPU time per put (Linux: /proc), the number of SQL statements
per put (a separate, short pass with a trace callback, which is not timed: the callback itself takes the GIL),
and the file's size per put. `--backend memory` gives the floor (no thread, no I/O); `--backend postgres`
uses `--dsn` (a schema of its own, dropped afterwards).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

from openai_bridge.store.base import Store, StoredResponse, tenant_of
from openai_bridge.store.memory import MemoryStore
from openai_bridge.store.sqlite import SQLiteStore

TENANT = tenant_of("bench-key")
SIZE = [0]  # the SQLite files' size after closing
TEXT = ("The quick brown fox jumps over the lazy dog while the bridge translates another stream of deltas; "
        "this sentence is long enough to make an item of a few hundred bytes once it is wrapped. ")


def response(n: int, run: str) -> StoredResponse:
    """A response as the bridge stores one: input message, reasoning, output message (ids unique per call)."""
    rid = f"resp_{run}{n:024x}"
    user = {"id": f"msg_{run}{n:024x}i", "type": "message", "role": "user",
            "content": [{"type": "input_text", "text": TEXT * 2}]}
    reasoning = {"id": f"rs_{run}{n:024x}", "type": "reasoning",
                 "summary": [{"type": "summary_text", "text": TEXT}], "encrypted_content": None}
    answer = {"id": f"msg_{run}{n:024x}o", "type": "message", "role": "assistant", "status": "completed",
              "content": [{"type": "output_text", "text": TEXT * 3, "annotations": [], "logprobs": []}]}
    body = {"id": rid, "object": "response", "created_at": 1_700_000_000 + n, "status": "completed",
            "background": False, "error": None, "incomplete_details": None, "instructions": "Be brief.",
            "max_output_tokens": None, "model": "bench-model", "output": [reasoning, answer],
            "parallel_tool_calls": True, "previous_response_id": None, "reasoning": {"effort": None},
            "store": True, "temperature": 1.0, "text": {"format": {"type": "text"}}, "tool_choice": "auto",
            "tools": [], "top_p": 1.0, "truncation": "disabled",
            "usage": {"input_tokens": 120, "output_tokens": 80, "total_tokens": 200,
                      "input_tokens_details": {"cached_tokens": 0},
                      "output_tokens_details": {"reasoning_tokens": 20}},
            "metadata": {}}
    return StoredResponse(rid, body, [user])


IO_EVERY = [0.0]  # --io-every-us: a tiny system call (which releases the GIL) this often within a slice
DEVNULL = os.open(os.devnull, os.O_WRONLY)


def spin(slice_s: float) -> None:
    now = time.perf_counter()
    end = now + slice_s
    io_at = now + IO_EVERY[0] if IO_EVERY[0] else end
    x = 0
    while now < end:
        for i in range(50):
            x += i
        now = time.perf_counter()
        if now >= io_at:
            os.write(DEVNULL, b"x")
            io_at = now + IO_EVERY[0]


def _thread(name: str | None) -> threading.Thread | None:
    """The loop's thread (None) or the thread of that name."""
    if name is None:
        return threading.main_thread()
    return next((t for t in threading.enumerate() if t.name == name), None)


def thread_stats(name: str | None) -> tuple[float, int] | None:
    """(CPU seconds, voluntary context switches) of a thread so far (Linux: /proc); None elsewhere, or when
    there is no such thread (yet). A thread that waits for the GIL blocks, so its voluntary context switches
    count the GIL hand-overs it waited for (and its other blocking waits: the writer's empty queue, ...)."""
    thread = _thread(name)
    if thread is None or thread.native_id is None:
        return None
    task = Path(f"/proc/self/task/{thread.native_id}")
    try:
        stat = (task / "stat").read_text()
        status = (task / "status").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    switches = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("voluntary_ctxt"))
    return cpu, switches


def others_busy() -> float | None:
    """CPU seconds spent so far by the machine's other processes (Linux): all busy time (/proc/stat) less this
    process's own. A phase during which others took a good share of the cores is noise, not a measurement."""
    try:
        cpu = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        mine = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    busy = sum(cpu) - cpu[3] - cpu[4]  # less idle and iowait
    return (busy - int(mine[11]) - int(mine[12])) / os.sysconf("SC_CLK_TCK")


WRITER = "bridge-store-writer"


async def phase(store: Store, *, seconds: float, spinners: int, slice_s: float, tasks: int, run: str,
                start: int, stream_slices: int = 0, store_on: bool = True) -> dict[str, float]:
    stop = asyncio.Event()
    slices = [0]
    puts = [0]

    async def spinner() -> None:
        while not stop.is_set():
            spin(slice_s)
            slices[0] += 1
            await asyncio.sleep(0)

    async def putter(k: int) -> None:
        n = start + k
        while not stop.is_set():
            for _ in range(stream_slices):
                spin(slice_s)
                slices[0] += 1
                await asyncio.sleep(0)
            if store_on:
                await store.put_response(TENANT, response(n, run))
            puts[0] += 1
            n += tasks

    writer0, loop0, others0 = thread_stats(WRITER), thread_stats(None), others_busy()
    t0 = time.perf_counter()
    running = [asyncio.create_task(spinner()) for _ in range(spinners)]
    running += [asyncio.create_task(putter(k)) for k in range(tasks)]
    await asyncio.sleep(seconds)
    stop.set()
    elapsed = time.perf_counter() - t0
    counted = (slices[0], puts[0])  # what finishes after the stop does not count
    await asyncio.gather(*running)
    writer1, loop1, others1 = thread_stats(WRITER), thread_stats(None), others_busy()
    out = {"seconds": elapsed, "slices_per_s": counted[0] / elapsed, "puts_per_s": counted[1] / elapsed,
           "puts_done": puts[0]}
    if writer0 is not None and writer1 is not None and puts[0]:
        out["writer_cpu_ms_per_put"] = (writer1[0] - writer0[0]) * 1000 / puts[0]
        out["writer_switches_per_put"] = (writer1[1] - writer0[1]) / puts[0]
    if loop0 is not None and loop1 is not None:
        out["loop_switches_per_s"] = (loop1[1] - loop0[1]) / elapsed
    if others0 is not None and others1 is not None:
        out["others_cores"] = (others1 - others0) / elapsed  # how many cores other processes kept busy
    return out


class Traced(SQLiteStore):
    """SQLite with its statements counted, through SQLite's trace callback. Python's callback is handed the
    top-level statement's text also for each trigger program it runs, so a repeat of the text just seen is
    not counted: what is counted is the statements the store itself runs (executemany: one per row)."""

    counting = False
    statements = 0
    _last = ""

    def _connect(self, timeout: float = 30) -> sqlite3.Connection:
        conn = super()._connect(timeout)
        conn.set_trace_callback(self._trace)
        return conn

    def _trace(self, sql: str) -> None:
        if self.counting and sql != self._last:
            self.statements += 1
        self._last = sql


async def statements_per_put(puts: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        store = await Traced.open(Path(tmp) / "store.sqlite3")
        try:
            await store.put_response(TENANT, response(0, "warm"))
            store.counting = True
            for n in range(puts):  # one at a time: a batch of one, as a lightly loaded bridge writes
                await store.put_response(TENANT, response(n + 1, "count"))
            store.counting = False
        finally:
            await store.close()
        return store.statements / puts


@contextlib.asynccontextmanager
async def opened(backend: str, dsn: str, synchronous: str) -> AsyncIterator[tuple[Store, Path | None]]:
    if backend == "memory":
        yield MemoryStore(), None
    elif backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "store.sqlite3"
            store = await SQLiteStore.open(path, synchronous=synchronous)  # type: ignore[arg-type]
            try:
                yield store, path
            finally:
                await store.close()
                SIZE[0] = sum(p.stat().st_size for p in path.parent.iterdir())
    elif backend == "postgres":
        import asyncpg

        from openai_bridge.store.postgres import PostgresStore

        schema = f"bench_{secrets.token_hex(4)}"
        pg = await PostgresStore.open(dsn, schema=schema)
        try:
            yield pg, None
        finally:
            await pg.close()
            conn = await asyncpg.connect(dsn)
            try:
                await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
            finally:
                await conn.close()
    else:
        raise SystemExit(f"unknown backend {backend!r}")


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    slice_s = args.slice_ms / 1000
    common = {"seconds": args.seconds, "slice_s": slice_s, "tasks": args.tasks}
    result: dict[str, object] = {
        "backend": args.backend, "tasks": args.tasks, "spinners": args.spinners, "slice_ms": args.slice_ms,
        "stream_slices": args.stream_slices, "io_every_us": args.io_every_us,
        "seconds": args.seconds, "switch_interval_ms": sys.getswitchinterval() * 1000,
        "sqlite_version": sqlite3.sqlite_version, "python": sys.version.split()[0]}
    async with opened(args.backend, args.dsn, args.synchronous) as (store, path):
        run = secrets.token_hex(3)
        await store.put_response(TENANT, response(0, run))  # warm: schema, connections, statement caches
        alone = await phase(store, spinners=args.spinners, run=run, start=1, **{**common, "tasks": 0})
        busy = await phase(store, spinners=args.spinners, run=run, start=1, **common)
        idle = await phase(store, spinners=0, run=run, start=10_000_000, **common)
        result["loop_alone"] = alone
        result["loop_and_puts"] = busy
        result["puts_alone"] = idle
        result["loop_progress_ratio"] = busy["slices_per_s"] / alone["slices_per_s"]
        streams = {"spinners": 0, "run": run, "stream_slices": args.stream_slices, **common}
        off = await phase(store, start=20_000_000, store_on=False, **streams)
        on = await phase(store, start=30_000_000, **streams)
        result["streams_store_off"] = off
        result["streams_store_on"] = on
        result["streams_ratio"] = on["puts_per_s"] / off["puts_per_s"]
        stored = 1 + busy["puts_done"] + idle["puts_done"] + on["puts_done"]
    if path is not None:  # measured once the store is closed: its WAL is then checkpointed into the file
        result["bytes_per_put"] = SIZE[0] / stored
    if args.backend == "sqlite":
        result["statements_per_put"] = await statements_per_put(200)
    return result


def _writer(phase: dict[str, float]) -> str:
    if "writer_cpu_ms_per_put" not in phase:
        return ""
    return (f"; writer thread per put: {phase['writer_cpu_ms_per_put']:.3f} ms CPU, "
            f"{phase['writer_switches_per_put']:.1f} waits")


def report(r: dict[str, object]) -> str:
    alone, busy, idle = r["loop_alone"], r["loop_and_puts"], r["puts_alone"]
    off, on = r["streams_store_off"], r["streams_store_on"]
    assert isinstance(alone, dict) and isinstance(busy, dict) and isinstance(idle, dict)
    assert isinstance(off, dict) and isinstance(on, dict)
    io = f", I/O every {r['io_every_us']:g} us" if r["io_every_us"] else ""
    lines = [
        f"backend {r['backend']}, {r['tasks']} put tasks, {r['spinners']} spinner(s) of {r['slice_ms']} ms slices"
        f"{io}, {r['seconds']} s per phase; "
        f"Python {r['python']}, SQLite {r['sqlite_version']}, switch interval {r['switch_interval_ms']:.1f} ms",
        f"  loop alone:   {alone['slices_per_s']:8.0f} slices/s",
        f"  loop + puts:  {busy['slices_per_s']:8.0f} slices/s ({r['loop_progress_ratio']:.1%} of alone), "
        f"{busy['puts_per_s']:6.0f} puts/s{_writer(busy)}",
        f"  puts alone:   {idle['puts_per_s']:8.0f} puts/s{_writer(idle)}",
        f"  streams of {r['stream_slices']} slices: {off['puts_per_s']:6.0f}/s store-off, "
        f"{on['puts_per_s']:6.0f}/s store-on ({r['streams_ratio']:.1%}){_writer(on)}",
    ]
    if "loop_switches_per_s" in on and on["puts_done"]:
        extra = (on["loop_switches_per_s"] - off["loop_switches_per_s"]) / on["puts_per_s"]
        lines.append(f"  loop thread waits per put (streams store-on minus store-off): {extra:.1f}")
    others = [p["others_cores"] for p in (alone, busy, idle, off, on) if "others_cores" in p]
    if others:
        lines.append(f"  other processes kept {max(others):.2f} of {os.cpu_count()} cores busy (the most of any phase)")
    if "statements_per_put" in r:
        lines.append(f"  SQL statements per put (one at a time, triggers not counted): {r['statements_per_put']:.2f}")
    if "bytes_per_put" in r:
        lines.append(f"  file size per stored response: {r['bytes_per_put']:.0f} bytes")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "memory", "postgres"])
    parser.add_argument("--tasks", type=int, default=16, help="concurrent put tasks")
    parser.add_argument("--spinners", type=int, default=1, help="coroutines keeping the loop busy")
    parser.add_argument("--slice-ms", type=float, default=1.0, help="pure-Python work between two yields")
    parser.add_argument("--stream-slices", type=int, default=5, help="loop work of one simulated stream")
    parser.add_argument("--io-every-us", type=float, default=0,
                        help="within a slice, a tiny write to /dev/null this often (the GIL released, as a "
                             "socket send does); 0: pure Python")
    parser.add_argument("--seconds", type=float, default=5.0, help="per phase")
    parser.add_argument("--synchronous", default="normal", choices=["normal", "full"], help="SQLite only")
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/test", help="Postgres only")
    parser.add_argument("--switch-interval-ms", type=float, help="sys.setswitchinterval, to test the theory")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = parser.parse_args()
    IO_EVERY[0] = args.io_every_us / 1e6
    if args.switch_interval_ms is not None:
        sys.setswitchinterval(args.switch_interval_ms / 1000)
    result = asyncio.run(main_async(args))
    print(json.dumps(result, indent=2) if args.json else report(result))


if __name__ == "__main__":
    main()
