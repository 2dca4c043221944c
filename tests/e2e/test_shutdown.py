"""Stopping the bridge: SIGINT or SIGTERM, as Ctrl-C in a terminal, a service manager or a supervisor sends
them, to a real process serving a real stream. A client never sees a cut connection: its stream finishes
within the grace period or ends with `response.failed` (`server_shutting_down`), a non-stream request still
waiting gets a 503; the process exits 0 by itself, and logs no traceback.

Every timing assertion is a lower bound the bridge guarantees (nothing ends before the grace period is
over), or an upper bound many seconds away.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from openai_bridge.testing import ScriptedUpstream, chunk, completion, free_port, json, pause, sse

from .test_cli import wait_healthy

ROOT = Path(__file__).resolve().parents[2]
UV = os.environ.get("UV") or shutil.which("uv")


class Bridge:
    """The bridge as its own process group (session), as a terminal runs it; its output goes to a file."""

    def __init__(self, tmp_path: Path, upstream: str, *, grace: float, uv: bool = False) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / "bridge.log"
        env = {**os.environ, "REMOTE_OPENAI_BASE_URL": upstream, "DEFAULT_MODEL": "m", "BRIDGE_PORT": str(self.port),
               "BRIDGE_REASONING_KEY": "test", "BRIDGE_SHUTDOWN_GRACE": str(grace), "BRIDGE_WORKERS": "1"}
        cmd = [UV, "run", "--frozen", "openai-bridge"] if uv else [sys.executable, "-m", "openai_bridge.cli"]
        with self.log_path.open("wb") as out:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        wait_healthy(self.port, self.proc, limit=30)

    def signal_group(self, sig: int) -> float:
        """`sig` to every process of the group, as a terminal's Ctrl-C does; returns when it was sent."""
        os.killpg(self.proc.pid, sig)
        return time.monotonic()

    def signal(self, sig: int) -> float:
        self.proc.send_signal(sig)
        return time.monotonic()

    def wait(self, limit: float) -> int:
        return self.proc.wait(limit)

    @property
    def log(self) -> str:
        return self.log_path.read_text()

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


class Request(threading.Thread):
    """POST /v1/responses from a thread; a stream's events are kept with the time each arrived."""

    def __init__(self, url: str, body: dict[str, Any]) -> None:
        super().__init__(daemon=True)
        self.url, self.body = url, body
        self.status: int | None = None
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.answer: dict[str, Any] | None = None
        self.error: Exception | None = None
        self.start()

    def run(self) -> None:
        try:
            with httpx.stream("POST", self.url + "/v1/responses", json=self.body, timeout=120) as r:
                self.status = r.status_code
                if not self.body.get("stream"):
                    self.answer = orjson.loads(r.read())
                    return
                for line in r.iter_lines():  # raises if the connection is cut before the end of the body
                    if line.startswith("data: "):
                        self.events.append((time.monotonic(), orjson.loads(line[6:])))
        except Exception as exc:
            self.error = exc

    def types(self) -> list[str]:
        return [e["type"] for _, e in self.events]

    def wait_for(self, event_type: str, limit: float = 15) -> None:
        deadline = time.monotonic() + limit
        while event_type not in self.types():
            assert self.is_alive() and time.monotonic() < deadline, (self.types(), self.error)
            time.sleep(0.02)

    def last(self, limit: float = 60) -> tuple[float, dict[str, Any]]:
        self.join(limit)
        assert not self.is_alive()
        assert self.error is None, f"the stream was cut: {self.error!r}"
        return self.events[-1]


def idle_keepalive_connection(port: int) -> socket.socket:
    """A connection that had its answer and is kept open for the next request."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/healthz")
    r = conn.getresponse()
    assert r.status == 200 and not r.will_close
    r.read()
    assert conn.sock is not None
    return conn.sock


@pytest.mark.skipif(UV is None, reason="needs uv")
def test_ctrl_c_under_uv_run(tmp_path: Path):
    """Ctrl-C in the terminal running `uv run openai-bridge`: SIGINT reaches uv, which passes it on, and the
    bridge itself. One request to stop: the stream gets its grace period, then ends with response.failed;
    the non-stream request gets a 503; idle keep-alive connections close at once; exit status 0."""
    grace = 3.0
    with ScriptedUpstream() as up:
        up.push(sse([chunk(role="assistant", content=""), chunk("Hel"), pause(60), chunk(finish_reason="stop")]),
                json(completion("late"), delay=60))
        bridge = Bridge(tmp_path, up.base_url, grace=grace, uv=True)
        try:
            stream = Request(bridge.url, {"input": "hi", "stream": True})
            stream.wait_for("response.output_text.delta")
            waiting = Request(bridge.url, {"input": "hi"})
            deadline = time.monotonic() + 15
            while len(up.chat_requests) < 2:
                assert time.monotonic() < deadline
                time.sleep(0.02)
            idle = idle_keepalive_connection(bridge.port)

            sent = bridge.signal_group(signal.SIGINT)
            assert idle.recv(1) == b""  # closed at shutdown, not after the grace period
            idle_closed = time.monotonic()
            assert bridge.wait(grace + 30) == 0
            ended, failed = stream.last()
            waiting.join(10)
        finally:
            bridge.kill()
    assert failed["type"] == "response.failed"
    assert failed["response"]["error"]["code"] == "server_shutting_down"
    assert failed["response"]["output"][0]["content"][0]["text"] == "Hel"
    assert ended - sent >= grace - 0.05  # the stream had its grace period...
    assert idle_closed < ended  # ...which the idle connection did not wait for
    assert waiting.status == 503 and waiting.error is None
    assert waiting.answer is not None and waiting.answer["error"]["code"] == "server_shutting_down"
    assert waiting.answer["error"]["type"] == "server_error"
    log = bridge.log
    assert "Traceback" not in log, log
    assert "grace period over; 2 response(s) under way ended with server_shutting_down" in log, log


def test_a_stream_that_finishes_within_the_grace_period_completes(tmp_path: Path):
    """SIGTERM: no new connection is accepted, the stream under way completes, and the process exits as
    soon as it has, without waiting for the rest of the grace period."""
    grace = 30.0
    with ScriptedUpstream() as up:
        up.push(sse([chunk(role="assistant", content=""), chunk("Hel"), pause(3), chunk("lo"),
                     chunk(finish_reason="stop")]))
        bridge = Bridge(tmp_path, up.base_url, grace=grace)
        try:
            stream = Request(bridge.url, {"input": "hi", "stream": True})
            stream.wait_for("response.output_text.delta")
            sent = bridge.signal(signal.SIGTERM)
            refused = False
            while not refused and stream.is_alive():
                try:
                    socket.create_connection(("127.0.0.1", bridge.port), timeout=5).close()
                    time.sleep(0.05)
                except ConnectionRefusedError:
                    refused = True
            assert refused and "response.completed" not in stream.types()  # refused while the stream ran
            assert bridge.wait(grace - 10) == 0
            exited = time.monotonic()
            _, completed = stream.last()
        finally:
            bridge.kill()
    assert completed["type"] == "response.completed"
    assert completed["response"]["output"][0]["content"][0]["text"] == "Hello"
    assert exited - sent < grace - 10
    assert "Traceback" not in bridge.log


def test_signals_together_are_one_request_a_later_one_ends_the_grace_now(tmp_path: Path):
    """SIGTERM, then SIGINT 0.2 s later (as a supervisor's SIGTERM and a terminal's Ctrl-C arrive): one
    request, the grace period runs. Another signal 2 s later: the stream ends now, with response.failed."""
    grace = 60.0
    with ScriptedUpstream() as up:
        up.push(sse([chunk(role="assistant", content=""), chunk("Hel"), pause(120), chunk(finish_reason="stop")]))
        bridge = Bridge(tmp_path, up.base_url, grace=grace)
        try:
            stream = Request(bridge.url, {"input": "hi", "stream": True})
            stream.wait_for("response.output_text.delta")
            first = bridge.signal(signal.SIGTERM)
            time.sleep(0.2)
            bridge.signal(signal.SIGINT)
            time.sleep(2 - (time.monotonic() - first))
            again = bridge.signal(signal.SIGINT)
            assert bridge.wait(30) == 0
            ended, failed = stream.last()
        finally:
            bridge.kill()
    assert failed["type"] == "response.failed"
    assert failed["response"]["error"]["code"] == "server_shutting_down"
    assert again <= ended < first + grace
    log = bridge.log
    assert "Traceback" not in log, log
    assert "asked again to stop; 1 response(s) under way ended with server_shutting_down" in log, log
