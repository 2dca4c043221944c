"""A put is committed before it returns: a process killed with SIGKILL right after its put was acknowledged
leaves the response in the SQLite file, found by the next process that opens it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from openai_bridge.store.sqlite import SQLiteStore

WRITER = """
import asyncio, sys, time
from pathlib import Path
from openai_bridge.store.base import StoredResponse
from openai_bridge.store.sqlite import SQLiteStore

async def main():
    store = await SQLiteStore.open(Path(sys.argv[1]))
    for n in range(20):
        body = {"id": f"resp_{n}", "status": "completed", "output": [{"id": f"msg_{n}", "type": "message"}]}
        await store.put_response("tenant", StoredResponse(f"resp_{n}", body, [{"id": f"in_{n}", "type": "message"}]))
        print(f"acknowledged resp_{n}", flush=True)
    time.sleep(3600)  # killed here, with the store open and nothing closed

asyncio.run(main())
"""


def test_an_acknowledged_put_survives_kill_9(tmp_path: Path):
    path = tmp_path / "store.sqlite3"
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        for n in range(20):
            assert child.stdout.readline().strip() == f"acknowledged resp_{n}"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL

    async def read() -> list[object]:
        store = await SQLiteStore.open(path)
        try:
            return [await store.get_response("tenant", f"resp_{n}") for n in range(20)]
        finally:
            await store.close()

    found = asyncio.run(read())
    assert all(r is not None for r in found)
    last = found[-1]
    assert last.response["output"] == [{"id": "msg_19", "type": "message"}]  # type: ignore[union-attr]
    assert last.input_items == [{"id": "in_19", "type": "message"}]  # type: ignore[union-attr]
