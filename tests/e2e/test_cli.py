"""The console script as a user runs it: a real process, real port, env and flags."""

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from openai_bridge.testing import ScriptedUpstream, answer, free_port
from tests.e2e.test_websocket import upgrade


def start(args, env=None):
    full_env = {**os.environ, **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "openai_bridge.cli", *args], env=full_env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def wait_healthy(port, proc, limit=15.0):
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if proc.poll() is not None:
            pytest.fail(f"the bridge exited: {proc.stdout.read().decode()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            time.sleep(0.05)
    pytest.fail("the bridge did not become healthy")


def stop(proc):
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.mark.parametrize("workers", [1, 2])
def test_serves_on_port_from_env_and_flags(workers):
    port = free_port()
    dead = free_port()
    proc = start(["--workers", str(workers), "--upstream", f"http://127.0.0.1:{dead}"],
                 env={"BRIDGE_PORT": str(port), "DEFAULT_MODEL": "m"})
    try:
        wait_healthy(port, proc)
        for path in ("/v1/responses", "/responses"):
            r = httpx.post(f"http://127.0.0.1:{port}{path}", json={"input": "hi"}, timeout=10)
            assert r.status_code == 502
            assert r.json()["error"]["code"] == "upstream_unreachable"
            assert f"127.0.0.1:{dead}/v1" in r.json()["error"]["message"]
            assert "check REMOTE_OPENAI_BASE_URL" in r.json()["error"]["message"]
            # uvloop + httptools + the named WebSocket implementation: an upgrade is refused with 426 here too
            assert upgrade(f"http://127.0.0.1:{port}", path).status == 426
    finally:
        stop(proc)


@pytest.mark.parametrize("workers", [1, 2])
def test_port_in_use_fails_clearly(workers):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = start(["--workers", str(workers), "--port", str(port)])
        try:
            assert proc.wait(20) == 1
            assert proc.stdout.read().decode().splitlines() == [
                f"openai-bridge: cannot listen on 127.0.0.1:{port}: port {port} is already in use"]
        finally:
            stop(proc)


def test_sigterm_stops_every_worker():
    port = free_port()
    proc = start(["--workers", "2", "--port", str(port)])
    wait_healthy(port, proc)
    children = [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
    assert len(children) == 2
    proc.terminate()
    assert proc.wait(20) == 0
    time.sleep(0.2)
    for pid in children:
        stat = Path(f"/proc/{pid}/stat")
        assert not stat.exists() or stat.read_text().split()[2] == "Z"


def test_workers_share_one_reasoning_key(tmp_path):
    """Reasoning sealed by any worker opens in every other: the supervisor makes the key before it forks."""
    with ScriptedUpstream(answer("4", reasoning_content="two plus two")) as up:
        port = free_port()
        state = tmp_path / "state"
        proc = start(["--workers", "2", "--port", str(port), "--upstream", up.base_url],
                     env={"DEFAULT_MODEL": "m", "BRIDGE_STATE_DIR": str(state), "BRIDGE_REASONING_KEY": ""})
        try:
            wait_healthy(port, proc)
            url = f"http://127.0.0.1:{port}/v1/responses"
            first = {"input": "2+2?", "store": False, "include": ["reasoning.encrypted_content"]}
            # httpx.post: a new connection each time, so the kernel spreads them over both workers
            outputs = [httpx.post(url, json=first, timeout=10).json()["output"] for _ in range(8)]
            for output in outputs:
                again = httpx.post(url, json={**first, "input": [{"role": "user", "content": "2+2?"}, *output]},
                                   timeout=10)
                assert again.status_code == 200, again.text
            assert stat.S_IMODE((state / "reasoning.key").stat().st_mode) == 0o600
        finally:
            stop(proc)
