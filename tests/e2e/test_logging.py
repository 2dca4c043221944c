"""What the operator reads: the start line, and one line per request with its outcome, as the real
`openai-bridge` process writes them to stderr."""

import os
import re
import subprocess
import sys
import time

import httpx
import pytest

from openai_bridge import __version__
from openai_bridge.testing import (
    ScriptedUpstream,
    chunk,
    completion,
    drop_after,
    error_body,
    free_port,
    json,
    pause,
    responses_sse,
    sse,
    text_chunks,
)
from tests.e2e.test_cli import stop, wait_healthy


class Bridge:
    def __init__(self, tmp_path, *args, env=None):
        self.port = free_port()
        self.log_path = tmp_path / "bridge.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "openai_bridge", "--port", str(self.port), *args],
                                     env={**os.environ, **(env or {})}, stdout=self._log, stderr=subprocess.STDOUT)
        wait_healthy(self.port, self.proc)
        self.url = f"http://127.0.0.1:{self.port}"

    def lines(self):
        return self.log_path.read_text().splitlines()

    def line_of(self, request_id, what="POST /v1/responses", timeout=10.0):
        """The request's log line, once written (after its answer is complete)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines():
                if f" {request_id} {what} " in line:
                    return line
            time.sleep(0.05)
        pytest.fail(f"no log line for {request_id}:\n" + "\n".join(self.lines()))

    def close(self):
        stop(self.proc)
        self._log.close()


@pytest.fixture
def upstream():
    with ScriptedUpstream() as up:
        yield up


@pytest.fixture
def bridge(tmp_path, upstream):
    b = Bridge(tmp_path, "--upstream", upstream.base_url, "--default-model", "m",
               env={"BRIDGE_STATE_DIR": str(tmp_path)})
    yield b
    b.close()


def post(bridge, request_id, body, **kw):
    return httpx.post(bridge.url + "/v1/responses", json=body, headers={"x-request-id": request_id}, timeout=10, **kw)


def fields(line):
    return dict(part.split("=", 1) for part in line.split() if "=" in part)


def test_start_line_says_what_runs_where_in_front_of_what(tmp_path, upstream):
    secret_url = upstream.base_url.replace("http://", "http://user:hunter2-secret@")
    b = Bridge(tmp_path, "--upstream", secret_url, "--workers", "1", env={"BRIDGE_STATE_DIR": str(tmp_path)})
    try:
        start = next(line for line in b.lines() if "listening on" in line)
        assert f"openai-bridge {__version__} listening on http://127.0.0.1:{b.port} (1 worker)" in start
        assert "upstream http://user:***@127.0.0.1:" in start and "(auto)" in start  # BRIDGE_UPSTREAM_MODE
        assert start.endswith(f"store sqlite://{tmp_path}/store.sqlite3")  # the default, under BRIDGE_STATE_DIR
        assert "hunter2-secret" not in b.log_path.read_text()
        assert not any("WARNING" in line for line in b.lines())  # loopback: nothing to warn about
    finally:
        b.close()


def test_listening_beyond_loopback_is_warned_about(tmp_path, upstream):
    b = Bridge(tmp_path, "--upstream", upstream.base_url, "--host", "0.0.0.0", env={"BRIDGE_STATE_DIR": str(tmp_path)})
    try:
        warning = next(line for line in b.lines() if " WARNING " in line)
        assert "listening on 0.0.0.0, beyond this machine" in warning and f"port {b.port}" in warning
    finally:
        b.close()


def test_no_warning_beyond_loopback_when_clients_need_a_key(tmp_path, upstream):
    b = Bridge(tmp_path, "--upstream", upstream.base_url, "--host", "0.0.0.0",
               env={"BRIDGE_STATE_DIR": str(tmp_path), "BRIDGE_API_KEYS": "client-key-1"})
    try:
        assert any("listening on http://0.0.0.0:" in line for line in b.lines())
        assert not any(" WARNING " in line for line in b.lines())
    finally:
        b.close()


def test_completed_stream(bridge, upstream):
    upstream.push(sse(text_chunks("Hel", "lo")))
    with httpx.stream("POST", bridge.url + "/v1/responses", json={"input": "hi", "stream": True},
                      headers={"x-request-id": "req-done"}, timeout=10) as r:
        assert r.status_code == 200
        r.read()
    line = bridge.line_of("req-done")
    assert re.search(r" INFO openai_bridge req-done POST /v1/responses 200 [\d.]+ms ", line), line
    f = fields(line)
    assert f["model"] == "m" and f["stream"] == "true" and f["outcome"] == "completed"
    assert f["tokens"] == "5/7"  # the scripted USAGE: prompt_tokens 5, completion_tokens 7
    assert re.fullmatch(r"[\d.]+ms", f["ttft"])


def test_failed_stream_says_failed_with_the_code_and_its_warning_names_the_request(bridge, upstream):
    upstream.push(drop_after([chunk(role="assistant", content="Hel")]))
    with httpx.stream("POST", bridge.url + "/v1/responses", json={"input": "hi", "stream": True},
                      headers={"x-request-id": "req-broken"}, timeout=10) as r:
        assert r.status_code == 200  # the stream had started: the failure is in it
        assert "response.failed" in r.read().decode()
    line = bridge.line_of("req-broken")
    assert fields(line)["outcome"] == "failed:upstream_bad_response"
    assert " 200 " in line
    warning = next(line for line in bridge.lines() if "upstream failed" in line)
    assert " WARNING openai_bridge req-broken " in warning


def test_stream_cut_by_the_client_says_client_gone(bridge, upstream):
    upstream.push(sse([chunk(role="assistant", content="Hel"), pause(30)]))
    with httpx.stream("POST", bridge.url + "/v1/responses", json={"input": "hi", "stream": True},
                      headers={"x-request-id": "req-cut"}, timeout=10) as r:
        for text in r.iter_text():
            if "response.output_text.delta" in text:
                break  # and hang up mid-answer
    f = fields(bridge.line_of("req-cut"))
    assert f["outcome"] == "client_gone"
    assert "ttft" in f and "tokens" not in f  # a first delta went out; no usage ever came


def test_non_stream_upstream_failure_says_failed_with_the_code(bridge, upstream):
    upstream.push(json(error_body("The engine is overloaded", type="server_error"), status=500))
    r = post(bridge, "req-500", {"input": "hi"})
    assert r.status_code == 500
    f = fields(bridge.line_of("req-500"))
    assert f["stream"] == "false" and f["outcome"] == "failed:upstream_error" and f["model"] == "m"


def test_a_refused_request_names_its_error(bridge):
    r = post(bridge, "req-bad", {"input": 42})
    assert r.status_code == 400
    error = r.json()["error"]
    assert fields(bridge.line_of("req-bad"))["error"] == (error["code"] or error["type"])


def test_dropped_field_warning_names_the_request(bridge, upstream):
    upstream.push(sse(text_chunks("ok")))
    post(bridge, "req-drop", {"input": "hi", "max_tool_calls": 3})
    bridge.line_of("req-drop")
    warning = next(line for line in bridge.lines() if "dropped max_tool_calls" in line)
    assert " WARNING openai_bridge req-drop " in warning


def test_health_checks_are_not_logged_at_info(bridge, upstream):
    for _ in range(3):
        assert httpx.get(bridge.url + "/healthz", headers={"x-request-id": "req-health"}).status_code == 200
    httpx.get(bridge.url + "/v1/models", headers={"x-request-id": "req-models"})
    bridge.line_of("req-models", what="GET /v1/models")
    assert not any("/healthz" in line for line in bridge.lines())


def test_uvicorn_lines_have_the_same_format(bridge):
    started = next(line for line in bridge.lines() if "Started server process" in line)
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO uvicorn - Started server process", started)


def chat(bridge, request_id, body):
    return httpx.post(bridge.url + "/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}],
                      **body}, headers={"x-request-id": request_id}, timeout=10)


def test_chat_completions_passed_through_say_model_stream_outcome_tokens_ttft(bridge, upstream):
    upstream.push(sse(text_chunks("Hel", "lo")), json({**completion("ok"), "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "cut"}, "finish_reason": "length"}]}))
    assert chat(bridge, "req-chat-stream", {"stream": True}).status_code == 200
    f = fields(bridge.line_of("req-chat-stream", what="POST /v1/chat/completions"))
    assert (f["model"], f["stream"], f["outcome"], f["tokens"]) == ("m", "true", "completed", "5/7")
    assert re.fullmatch(r"[\d.]+ms", f["ttft"])
    assert chat(bridge, "req-chat-cut", {}).status_code == 200
    f = fields(bridge.line_of("req-chat-cut", what="POST /v1/chat/completions"))
    assert (f["stream"], f["outcome"], f["tokens"]) == ("false", "incomplete:length", "5/7")


def test_chat_completions_translated_say_the_same(tmp_path):
    """In front of a Responses upstream: the tokens come from its Response, asked for by the client or not."""
    events = [{"type": "response.created", "response": {"id": "r", "status": "in_progress", "output": []}},
              {"type": "response.output_text.delta", "item_id": "m1", "delta": "Hi"},
              {"type": "response.completed", "response": {
                  "id": "r", "status": "completed", "usage": {"input_tokens": 11, "output_tokens": 3},
                  "output": [{"type": "message", "id": "m1", "role": "assistant",
                              "content": [{"type": "output_text", "text": "Hi"}]}]}}]
    with ScriptedUpstream() as up:
        up.push_responses(responses_sse(events), responses_sse(events[:2] + [{"type": "response.failed", "response": {
            "id": "r", "status": "failed", "error": {"code": "server_error", "message": "crashed"}}}]))
        b = Bridge(tmp_path, "--upstream", up.base_url, "--default-model", "m",
                   env={"BRIDGE_STATE_DIR": str(tmp_path), "BRIDGE_UPSTREAM_MODE": "responses"})
        try:
            assert chat(b, "req-tr", {"stream": True}).status_code == 200
            f = fields(b.line_of("req-tr", what="POST /v1/chat/completions"))
            assert (f["model"], f["stream"], f["outcome"], f["tokens"]) == ("m", "true", "completed", "11/3")
            assert "ttft" in f
            assert '"error"' in chat(b, "req-tr-failed", {"stream": True}).text
            f = fields(b.line_of("req-tr-failed", what="POST /v1/chat/completions"))
            assert f["outcome"] == "failed:server_error" and "tokens" not in f
        finally:
            b.close()
