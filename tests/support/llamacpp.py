"""A real llama.cpp server (xllamacpp + SmolLM2-135M from PyPI) in a child process.

`llamacpp_server()` starts it, waits for `/health` and yields `http://127.0.0.1:PORT/v1`; it always stops it.
The child is the README's own script, examples/llama_server.py, run with `--until-stdin-closes`: it prints its
listening address on stdout, then serves until its stdin closes (so it also goes away if the test process dies
without cleaning up). In a subprocess, a native crash cannot take pytest down and it can be killed cleanly.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "llama_server.py"
STARTUP_TIMEOUT = 60.0
# One thread, not two: on a 2-core machine shared with other work (a parallel test run), llama.cpp's
# threads wait for each other at every op and a descheduled one stalls them all. Measured here under a
# load of ~3.5: 32 tokens took 0.4-0.8 s with 1 thread, 2-16 s with 2 (idle, both are about as fast).
THREADS = 1


def _tail(path: str, n: int = 30) -> str:
    try:
        return "".join(Path(path).read_text(errors="replace").splitlines(keepends=True)[-n:])
    except OSError:
        return ""


@contextmanager
def llamacpp_server(
    port: int | None = None, *, threads: int = THREADS, timeout: float = STARTUP_TIMEOUT, alias: str | None = None
) -> Iterator[str]:
    """Run llama.cpp's server on `port` (a free one by default); yields `http://127.0.0.1:PORT/v1`. `alias`: the
    model name it reports (by default, the GGUF's path)."""
    log = tempfile.NamedTemporaryFile(prefix="llamacpp-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-u", str(SCRIPT), "--port", str(port or 0), "--threads", str(threads),
         "--until-stdin-closes", *(["--alias", alias] if alias else [])],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        base = _wait_ready(proc, log.name, timeout)
        yield base + "/v1"
    finally:
        _stop(proc)
        log.close()
        os.unlink(log.name)


def _wait_ready(proc: subprocess.Popen[str], log: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout

    def fail(why: str) -> RuntimeError:
        return RuntimeError(f"llama.cpp server {why}; last lines of its log:\n{_tail(log)}")

    assert proc.stdout is not None
    # The child's first stdout line comes once the model is loaded and the socket is bound; a dead
    # child closes stdout (readline returns ""). The read runs in a thread so a hung load is bounded too.
    line = _readline_with_deadline(proc, deadline)
    if line is None:
        raise fail(f"did not start within {timeout:g} s")
    if not line.startswith("LISTENING "):
        raise fail(f"exited with code {proc.poll()} before listening")
    base = line.split(" ", 1)[1].strip().rstrip("/")
    while True:
        try:
            if httpx.get(base + "/health", timeout=2).status_code == 200:
                return base
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise fail(f"exited with code {proc.returncode} before /health answered 200")
        if time.monotonic() > deadline:
            raise fail(f"/health did not answer 200 within {timeout:g} s")
        time.sleep(0.1)


def _readline_with_deadline(proc: subprocess.Popen[str], deadline: float) -> str | None:
    stdout = proc.stdout
    assert stdout is not None
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(max(0.0, deadline - time.monotonic()))
    return out[0] if out else None


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        with suppress(OSError):
            assert proc.stdin is not None
            proc.stdin.close()  # the polite way: the child exits on EOF
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            with suppress(OSError):
                stream.close()

