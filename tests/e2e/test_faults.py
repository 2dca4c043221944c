"""Faults end to end: the client's mistakes, the upstream's failures, timeouts, keepalives, disconnects.

Every case ends by checking that the bridge still serves a normal request.
"""

from __future__ import annotations

import logging
import time

import httpx
import openai
import pytest
from openai import OpenAI

from openai_bridge.settings import Settings
from openai_bridge.testing import ScriptedUpstream, free_port, running_bridge
from openai_bridge.testing import scripted as s
from tests.support.conformance import Recorder
from tests.support.pages import NGINX_404, page_server

from .conftest import KEEPALIVE, TIMEOUTS

TERMINAL = {"response.completed", "response.incomplete", "response.failed"}


def still_serves(client: OpenAI, upstream: ScriptedUpstream) -> None:
    upstream.push(s.answer("still here"))
    assert client.responses.create(model="m", input="ping").output_text == "still here"


def assert_openai_error(resp: httpx.Response, status: int, param: str | None = None) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.headers.get("x-request-id")
    err = resp.json()["error"]
    assert set(err) >= {"message", "type", "param", "code"}
    assert isinstance(err["message"], str) and err["message"]
    if param is not None:
        assert err["param"] == param
    return err


def failed_stream(client: OpenAI, code: str, **kw) -> list:
    events = list(client.responses.create(model="m", input="Hi", stream=True, **kw))
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert [e.type for e in events if e.type in TERMINAL] == ["response.failed"]
    assert events[-1].type == "response.failed"
    failed = events[-1].response
    assert failed.status == "failed"
    assert failed.error is not None and failed.error.message
    assert failed.error.code == code
    return events


# --------------------------------------------------------------------------- the client's mistakes


def test_malformed_json_body(http: httpx.Client, client: OpenAI, upstream: ScriptedUpstream):
    resp = http.post("/v1/responses", content=b'{"model": "m", "input": ', headers={"content-type": "application/json",
                                                                                   "x-request-id": "bad-1"})
    err = assert_openai_error(resp, 400)
    assert err["type"] == "invalid_request_error"
    assert resp.headers["x-request-id"] == "bad-1"
    assert_openai_error(http.post("/responses", content=b""), 400)
    assert_openai_error(http.post("/v1/responses", content=b"[1, 2]"), 400)
    assert upstream.chat_requests == []
    still_serves(client, upstream)


def test_missing_input(http: httpx.Client, client: OpenAI, upstream: ScriptedUpstream):
    assert_openai_error(http.post("/v1/responses", json={"model": "m"}), 400, param="input")
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="m")
    assert info.value.status_code == 400
    assert upstream.chat_requests == []
    still_serves(client, upstream)


@pytest.mark.parametrize(("body", "param"), [
    ({"model": "m", "input": 5}, "input"),
    ({"model": "m", "input": "hi", "temperature": "hot"}, "temperature"),
    ({"model": "m", "input": "hi", "stream": "yes"}, "stream"),
    ({"model": 7, "input": "hi"}, "model"),
    ({"model": "m", "input": "hi", "max_output_tokens": -1}, "max_output_tokens"),
    ({"model": "m", "input": "hi", "tools": {"type": "function"}}, "tools"),
    ({"model": "m", "input": [42]}, "input[0]"),
])
def test_wrong_types(http: httpx.Client, client: OpenAI, upstream: ScriptedUpstream, body: dict, param: str):
    err = assert_openai_error(http.post("/v1/responses", json=body), 400, param=param)
    assert err["type"] == "invalid_request_error"
    assert upstream.chat_requests == []
    still_serves(client, upstream)


def test_unknown_route_is_openai_shaped_404(http: httpx.Client):
    assert_openai_error(http.get("/v1/nothing-here"), 404)


# --------------------------------------------------------------------------- upstream errors


@pytest.mark.parametrize("stream", [False, True])
def test_upstream_400_is_bad_request_with_upstreams_message(client: OpenAI, upstream: ScriptedUpstream,
                                                             stream: bool):
    upstream.push(s.json(s.error_body("This model's maximum context length is 4096 tokens", param="messages",
                                      code="context_length_exceeded"), status=400))
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="m", input="Hi", stream=stream)
    assert "maximum context length is 4096" in info.value.message
    assert info.value.code == "context_length_exceeded"
    assert info.value.param == "messages"
    assert info.value.response.headers.get("x-request-id")
    still_serves(client, upstream)


@pytest.mark.parametrize("stream", [False, True])
def test_upstream_without_the_route_is_a_502_naming_the_url_and_the_setting(client: OpenAI, upstream: ScriptedUpstream,
                                                                              stream: bool):
    """A base URL the server has no /chat/completions under: the bridge's configuration, not the client's request."""
    upstream.push(s.json(NGINX_404, status=404))
    with pytest.raises(openai.APIStatusError) as info:
        client.responses.create(model="m", input="Hi", stream=stream)
    assert info.value.status_code == 502
    assert info.value.code == "upstream_not_found"
    message = info.value.message
    assert f"The upstream has no route POST {upstream.base_url}/chat/completions (it answered 404: 404 Not Found" \
        in message
    assert "Check REMOTE_OPENAI_BASE_URL" in message
    assert "<center>" not in message and "nginx/1.24.0" not in message
    still_serves(client, upstream)


def test_upstream_without_any_route_fails_the_model_list_and_responses_alike(conformance: Recorder):
    with page_server() as site, \
            running_bridge(Settings(upstream=site, default_model="m"), wrap=conformance.wrap) as url, \
            OpenAI(base_url=url + "/v1", api_key="x", max_retries=0) as client:
        with pytest.raises(openai.APIStatusError) as info:
            client.models.list()
        assert (info.value.status_code, info.value.code) == (502, "upstream_not_found")
        assert f"has no route GET {site}/v1/models" in info.value.message
        assert "REMOTE_OPENAI_BASE_URL" in info.value.message
        with pytest.raises(openai.APIStatusError) as info:
            client.responses.create(input="Hi")
        assert f"has no route POST {site}/v1/chat/completions" in info.value.message


def test_upstream_unknown_model_stays_404_with_the_upstreams_message(client: OpenAI, upstream: ScriptedUpstream):
    """The other 404: about the client's request, so the client gets it as the upstream said it (vLLM's shape)."""
    upstream.push(s.json({"object": "error", "message": "The model `nope` does not exist.", "type": "NotFoundError",
                          "param": None, "code": 404}, status=404))
    with pytest.raises(openai.NotFoundError) as info:
        client.responses.create(model="nope", input="Hi")
    assert "The model `nope` does not exist." in info.value.message
    assert "REMOTE_OPENAI_BASE_URL" not in info.value.message
    still_serves(client, upstream)


def test_upstream_ollama_style_error_string(client: OpenAI, upstream: ScriptedUpstream):
    upstream.push(s.json({"error": "model 'nope' not found"}, status=404))
    with pytest.raises(openai.APIStatusError) as info:
        client.responses.create(model="nope", input="Hi")
    assert info.value.status_code == 404
    assert "model 'nope' not found" in info.value.message
    still_serves(client, upstream)


@pytest.mark.parametrize("status", [500, 503])
@pytest.mark.parametrize("stream", [False, True])
def test_upstream_5xx(client: OpenAI, upstream: ScriptedUpstream, status: int, stream: bool):
    # A 503 is retried twice (here at once: Retry-After 0) before the client gets it; a 500 is not retried.
    attempts = 3 if status == 503 else 1
    error = s.json(s.error_body("engine overloaded", type="server_error"), status=status,
                   headers=[("Retry-After", "0")])
    upstream.push(*[error] * attempts)
    with pytest.raises(openai.APIStatusError) as info:
        client.responses.create(model="m", input="Hi", stream=stream)
    assert 500 <= info.value.status_code < 600
    assert "engine overloaded" in info.value.message
    assert len(upstream.chat_requests) == attempts
    still_serves(client, upstream)


def test_upstream_429_passes_through_once_the_retries_are_spent(client: OpenAI, upstream: ScriptedUpstream):
    upstream.push(*[s.json(s.error_body("slow down", type="rate_limit_error"), status=429)] * 3)
    with pytest.raises(openai.RateLimitError):
        client.responses.create(model="m", input="Hi")
    assert len(upstream.chat_requests) == 3
    still_serves(client, upstream)


@pytest.mark.parametrize("stream", [False, True])
def test_unreachable_upstream_is_502_naming_the_url_and_the_setting(stream: bool, conformance: Recorder):
    upstream_url = f"http://127.0.0.1:{free_port()}/v1"
    config = Settings(upstream=upstream_url, default_model="m", keepalive=KEEPALIVE, timeouts=TIMEOUTS)
    with running_bridge(config, wrap=conformance.wrap) as url, \
            OpenAI(base_url=url + "/v1", api_key="x", max_retries=0) as client:
        with pytest.raises(openai.APIStatusError) as info:
            client.responses.create(model="m", input="Hi", stream=stream)
        assert info.value.status_code == 502
        assert isinstance(info.value.body, dict) and info.value.body.get("code") == "upstream_unreachable"
        assert f"Cannot reach the upstream at {upstream_url}: " in info.value.message
        assert "(check REMOTE_OPENAI_BASE_URL, and that the model server is running)" in info.value.message


def test_upstream_api_key_is_sent(upstream: ScriptedUpstream, conformance: Recorder):
    config = Settings(upstream=upstream.base_url, api_key="sk-upstream", default_model="m")
    with running_bridge(config, wrap=conformance.wrap) as url, \
            OpenAI(base_url=url, api_key="client-key", max_retries=0) as client:
        client.responses.create(input="Hi")
    assert upstream.last.headers["authorization"] == "Bearer sk-upstream"


def test_garbage_non_stream_is_502(client: OpenAI, upstream: ScriptedUpstream):
    upstream.push(s.garbage())
    with pytest.raises(openai.APIStatusError) as info:
        client.responses.create(model="m", input="Hi")
    assert info.value.status_code == 502
    still_serves(client, upstream)


# --------------------------------------------------------------------------- broken streams


def test_upstream_drops_mid_stream(client: OpenAI, upstream: ScriptedUpstream):
    upstream.push(s.drop_after(s.text_chunks("Hello", " wor")[:3], delay=0.01))
    events = failed_stream(client, "upstream_bad_response")
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "Hello wor"
    still_serves(client, upstream)


def test_upstream_ends_without_done_or_finish(client: OpenAI, upstream: ScriptedUpstream):
    upstream.push(s.sse(s.text_chunks("Hello")[:2], done=False))
    failed_stream(client, "upstream_bad_response")
    still_serves(client, upstream)


def test_garbage_stream(client: OpenAI, upstream: ScriptedUpstream):
    upstream.push(s.garbage())
    failed_stream(client, "upstream_bad_response")
    still_serves(client, upstream)


def test_error_event_inside_stream(client: OpenAI, upstream: ScriptedUpstream):
    upstream.push(s.sse([s.chunk(role="assistant"), s.chunk("Hi"), s.error_body("out of memory", "server_error")]))
    events = failed_stream(client, "upstream_error")
    assert "out of memory" in events[-1].response.error.message
    still_serves(client, upstream)


# --------------------------------------------------------------------------- timeouts


def test_hanging_upstream_non_stream_is_504(client: OpenAI, upstream: ScriptedUpstream):
    upstream.push(s.hang(10))
    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as info:
        client.responses.create(model="m", input="Hi")
    assert info.value.status_code == 504
    assert "(BRIDGE_UPSTREAM_TIMEOUT)" in info.value.message
    assert time.monotonic() - started < TIMEOUTS.first_byte + 2
    assert upstream.disconnected.wait(2), "the bridge kept the timed-out upstream request open"
    still_serves(client, upstream)


def test_hanging_upstream_stream_fails(client: OpenAI, upstream: ScriptedUpstream):
    upstream.push(s.hang(10))
    started = time.monotonic()
    events = failed_stream(client, "upstream_timeout")
    assert "(BRIDGE_UPSTREAM_TIMEOUT)" in events[-1].response.error.message
    assert time.monotonic() - started < TIMEOUTS.first_byte + 2
    assert upstream.disconnected.wait(2), "the bridge kept the timed-out upstream request open"
    still_serves(client, upstream)


def test_silent_upstream_mid_stream_fails_after_idle_timeout(client: OpenAI, upstream: ScriptedUpstream):
    chunks = s.text_chunks("Hello", " world")
    upstream.push(s.sse([*chunks[:2], s.pause(TIMEOUTS.idle + 1.5), *chunks[2:]]))
    started = time.monotonic()
    events = failed_stream(client, "upstream_timeout")
    assert time.monotonic() - started < TIMEOUTS.idle + 1.4
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "Hello"
    assert "(BRIDGE_UPSTREAM_IDLE_TIMEOUT)" in events[-1].response.error.message
    assert upstream.disconnected.wait(2)
    still_serves(client, upstream)


# --------------------------------------------------------------------------- keepalive and disconnects


def test_keepalive_comments_while_upstream_is_silent(bridge_url: str, upstream: ScriptedUpstream):
    wait = KEEPALIVE * 3.5  # under TIMEOUTS.first_byte
    upstream.push(s.sse(s.text_chunks("late"), first_delay=wait))
    raw = b""
    with httpx.Client(timeout=10) as http, http.stream(
        "POST", bridge_url + "/v1/responses", json={"model": "m", "input": "Hi", "stream": True}
    ) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        for piece in resp.iter_raw():
            raw += piece
    head, _, tail = raw.partition(b"event: response.output_item.added")
    assert head.count(b": keepalive\n\n") >= 2
    assert b"event: response.created\n" in head and b"event: response.in_progress\n" in head
    assert head.index(b"event: response.created") < head.index(b": keepalive")
    assert b"event: response.completed\n" in tail
    assert b"[DONE]" not in raw


def test_keepalives_do_not_disturb_the_sdk(client: OpenAI, upstream: ScriptedUpstream):
    chunks = s.text_chunks("a", "b")
    upstream.push(s.sse([*chunks[:2], s.pause(KEEPALIVE * 2.5), *chunks[2:]]))
    with client.responses.stream(model="m", input="Hi") as stream:
        assert stream.get_final_response().output_text == "ab"


@pytest.mark.parametrize("upstream_state", ["silent", "streaming"])
def test_client_disconnect_closes_the_upstream_request(bridge_url: str, client: OpenAI, upstream: ScriptedUpstream,
                                                       upstream_state: str):
    if upstream_state == "silent":
        upstream.push(s.hang(5))
    else:
        upstream.push(s.sse(s.text_chunks(*["tok "] * 200), delay=0.02))
    with httpx.Client(timeout=10) as http, http.stream(
        "POST", bridge_url + "/v1/responses", json={"model": "m", "input": "Hi", "stream": True}
    ) as resp:
        for line in resp.iter_lines():
            if line.startswith("event: response.in" if upstream_state == "silent" else "event: response.output_text"):
                break
    assert upstream.disconnected.wait(3), "the upstream request outlived the client"
    assert upstream.completed == 0
    still_serves(client, upstream)


def test_upstream_refusal_after_the_stream_started(client: OpenAI, upstream: ScriptedUpstream):
    # Past the keepalive interval the stream has begun: a late 4xx can only end it with response.failed.
    upstream.push(s.json(s.error_body("late refusal"), status=400, delay=KEEPALIVE * 2))
    events = failed_stream(client, "upstream_error")
    assert "late refusal" in events[-1].response.error.message
    still_serves(client, upstream)


def test_client_disconnect_non_stream_closes_the_upstream_request(bridge_url: str, upstream: ScriptedUpstream):
    upstream.push(s.hang(10))
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(bridge_url + "/v1/responses", json={"model": "m", "input": "Hi"}, timeout=0.2)
    # Well before TIMEOUTS.first_byte, which would close it anyway.
    assert upstream.disconnected.wait(TIMEOUTS.first_byte * 0.5)


SECRET = "sk-proj-BRIDGESECRET987654321"


@pytest.mark.parametrize("stream", [False, True])
def test_upstream_rejecting_the_bridges_key_is_a_502_that_never_shows_the_key(
        upstream: ScriptedUpstream, stream: bool, caplog: pytest.LogCaptureFixture, conformance: Recorder):
    upstream.push(s.json({"error": {"message": f"Incorrect API key provided: {SECRET}.", "code": "invalid_api_key"}},
                         status=401))
    config = Settings(upstream=upstream.base_url, api_key=SECRET, default_model="m")
    with caplog.at_level(logging.INFO), running_bridge(config, wrap=conformance.wrap) as url:
        resp = httpx.post(url + "/v1/responses", json={"input": "Hi", "stream": stream}, timeout=10)
    err = assert_openai_error(resp, 502)
    assert err["code"] == "upstream_auth_failed"
    assert SECRET not in resp.text and SECRET not in caplog.text
    assert "[redacted]" in err["message"]
