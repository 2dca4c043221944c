"""A response the client saw completed survives the bridge being killed at once (`kill -9`): the real bridge
process (`python -m openai_bridge`) on its default store, SQLite in a file, started again on the same file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from openai_bridge.settings import Settings
from openai_bridge.testing import ScriptedUpstream, free_port, running_bridge
from openai_bridge.testing import scripted as s
from tests.e2e.test_cli import stop, wait_healthy
from tests.support.conformance import Recorder


def start(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "openai_bridge"], env={**os.environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def store_env(up: ScriptedUpstream, tmp_path: Path) -> dict[str, str]:
    """A bridge process in front of `up`, on the SQLite store `tmp_path/store.sqlite3`."""
    return {"REMOTE_OPENAI_BASE_URL": up.base_url, "DEFAULT_MODEL": "m",
            "BRIDGE_STORE": f"sqlite:///{tmp_path / 'store.sqlite3'}", "BRIDGE_STATE_DIR": str(tmp_path / "state"),
            "BRIDGE_LOG_LEVEL": "warning"}


def started(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    """The bridge process with `env` on a free port, once healthy."""
    port = free_port()
    proc = start({**env, "BRIDGE_PORT": str(port)})
    wait_healthy(port, proc)
    return proc, port


def completed_then_killed(url: str, proc: subprocess.Popen[bytes], *, stream: bool) -> dict[str, Any]:
    """Create a response; SIGKILL the bridge the moment the client has it whole (the terminal event of a stream,
    before the stream's end; the JSON answer). Returns the response as the client got it."""
    body = {"model": "m", "input": "Will you remember this?", "stream": stream}
    if not stream:
        r = httpx.post(url + "/v1/responses", json=body, timeout=10)
        os.kill(proc.pid, signal.SIGKILL)
        assert r.status_code == 200, r.text
        answer: dict[str, Any] = r.json()
        return answer
    with httpx.stream("POST", url + "/v1/responses", json=body, timeout=10) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("data: "):
                event = json.loads(line[6:])
                if event["type"] in ("response.completed", "response.incomplete", "response.failed"):
                    os.kill(proc.pid, signal.SIGKILL)
                    assert event["type"] == "response.completed", event
                    final: dict[str, Any] = event["response"]
                    return final
    pytest.fail("the stream ended without a terminal event")


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
def test_a_completed_response_survives_kill_9(tmp_path: Path, stream: bool):
    with ScriptedUpstream() as up:
        env = store_env(up, tmp_path)
        proc, port = started(env)
        try:
            url = f"http://127.0.0.1:{port}"
            up.push(s.answer("Yes, I will.", pieces=5, delay=0.01))
            kept = completed_then_killed(url, proc, stream=stream)
            assert proc.wait(10) == -signal.SIGKILL
        finally:
            stop(proc)
        assert kept["status"] == "completed" and kept["store"] is True

        proc, port = started(env)
        try:
            url = f"http://127.0.0.1:{port}"
            r = httpx.get(f"{url}/v1/responses/{kept['id']}", timeout=10)
            assert r.status_code == 200, r.text
            assert r.json() == kept
            items = httpx.get(f"{url}/v1/responses/{kept['id']}/input_items", timeout=10).json()
            assert [i["content"] for i in items["data"]] == [
                [{"type": "input_text", "text": "Will you remember this?"}]]
            up.push(s.answer("You asked whether I would remember."))
            r = httpx.post(url + "/v1/responses", timeout=10, json={
                "model": "m", "input": "What did I ask?", "previous_response_id": kept["id"]})
            assert r.status_code == 200, r.text
            assert up.last.body["messages"] == [
                {"role": "user", "content": "Will you remember this?"},
                {"role": "assistant", "content": "Yes, I will."},
                {"role": "user", "content": "What did I ask?"}]
        finally:
            stop(proc)
        assert proc.returncode == 0


def test_workers_share_the_default_store(tmp_path: Path):
    """`--workers 2` on the default store (SQLite in BRIDGE_STATE_DIR): a response made by one worker is found
    by the other. Each request on a new connection, so that the kernel spreads them over both workers."""
    state = tmp_path / "state"
    with ScriptedUpstream() as up:
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "openai_bridge", "--workers", "2"],
                                env={**os.environ, "REMOTE_OPENAI_BASE_URL": up.base_url, "DEFAULT_MODEL": "m",
                                     "BRIDGE_PORT": str(port), "BRIDGE_STATE_DIR": str(state),
                                     "BRIDGE_LOG_LEVEL": "warning"},
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            wait_healthy(port, proc)
            url = f"http://127.0.0.1:{port}/v1/responses"
            made = []
            for n in range(8):
                up.push(s.answer(f"answer {n}"))
                r = httpx.post(url, json={"input": f"question {n}", "stream": n % 2 == 0}, timeout=10)
                assert r.status_code == 200, r.text
                made.append(r.text)
            ids = [json.loads(m)["id"] if not m.startswith("event:") else _completed(m)["id"] for m in made]
            for _ in range(3):
                for n, response_id in enumerate(ids):
                    r = httpx.get(f"{url}/{response_id}", timeout=10)
                    assert r.status_code == 200, r.text
                    assert r.json()["output"][0]["content"][0]["text"] == f"answer {n}"
            up.push(s.answer("ok"))
            r = httpx.post(url, json={"input": "and?", "previous_response_id": ids[-1]}, timeout=10)
            assert r.status_code == 200, r.text
            assert up.last.body["messages"][:2] == [{"role": "user", "content": "question 7"},
                                                    {"role": "assistant", "content": "answer 7"}]
            assert (state / "store.sqlite3").exists()
        finally:
            stop(proc)


def _completed(sse: str) -> dict[str, Any]:
    for line in sse.splitlines():
        if line.startswith("data: ") and '"response.completed"' in line:
            response: dict[str, Any] = json.loads(line[6:])["response"]
            return response
    raise AssertionError(sse)


def test_a_background_run_whose_bridge_was_killed_is_failed_not_left_in_progress(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, conformance: Recorder):
    """Its worker stops saying it is alive: whoever looks next (a poll, a resumed stream, a cancel) finds it failed,
    instead of `in_progress` forever."""
    from openai_bridge.runs import background

    with ScriptedUpstream() as up:
        env = store_env(up, tmp_path)
        proc, port = started(env)
        try:
            up.push(s.hang())  # the model never answers
            r = httpx.post(f"http://127.0.0.1:{port}/v1/responses", timeout=10,
                           json={"model": "m", "input": "Think long.", "background": True})
            assert r.status_code == 200 and r.json()["status"] == "in_progress"
            response_id = r.json()["id"]
            os.kill(proc.pid, signal.SIGKILL)
            assert proc.wait(10) == -signal.SIGKILL
        finally:
            stop(proc)

        settings = Settings(upstream=up.base_url, default_model="m", store=env["BRIDGE_STORE"])
        with running_bridge(settings, wrap=conformance.wrap) as url:
            polled = httpx.get(f"{url}/v1/responses/{response_id}", timeout=10).json()
            assert polled["status"] == "in_progress"  # its last beat (at its start) is not LOST_AFTER old yet
            monkeypatch.setattr(background, "LOST_AFTER", 0.5)
            time.sleep(0.6)
            last: dict[str, Any] = {}
            deadline = time.monotonic() + 15
            with httpx.stream("GET", f"{url}/v1/responses/{response_id}", timeout=10,
                              params={"stream": "true", "starting_after": 1}) as resumed:
                for line in resumed.iter_lines():  # keepalives come every BRIDGE_KEEPALIVE seconds meanwhile
                    if line.startswith("data: "):
                        last = json.loads(line[6:])
                    assert time.monotonic() < deadline, "the resumed stream of a lost run did not end"
            assert last["type"] == "response.failed" and last["response"]["status"] == "failed"
            polled = httpx.get(f"{url}/v1/responses/{response_id}", timeout=10).json()
            assert polled["status"] == "failed" and "stopped before it finished" in polled["error"]["message"]
