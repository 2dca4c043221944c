"""One contract, every implementation of the upstream seam: the aiohttp client in front of a real
(scripted) server, and the in-process `FakeUpstream`, given the same script, give the same answers and
fail with the same errors. Tests that use the fake can trust it to behave like the real thing."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from openai_bridge.errors import BridgeError, UpstreamError, UpstreamProtocolError
from openai_bridge.testing import FakeUpstream, ScriptedUpstream
from openai_bridge.testing import scripted as s
from openai_bridge.upstream.errors import BASE_URL_HINT
from openai_bridge.upstream.http import HTTPUpstream


@pytest.fixture(scope="module")
def server() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream() as up:
        yield up


@pytest.fixture(params=["http", "fake"])
def through(request: pytest.FixtureRequest, server: ScriptedUpstream) -> Callable[..., Any]:
    """`through(reply, method, body)`: push `reply`, call `method` on a fresh upstream of the kind, collect."""

    def call(reply: Any, method: str, body: Any = None, *, responses: bool = False) -> Any:
        async def go() -> Any:
            if request.param == "http":
                server.reset()
                (server.push_responses if responses else server.push)(reply)
                up: Any = HTTPUpstream(server.base_url)
            else:
                up = FakeUpstream(base_url=server.base_url)  # the URL that error messages name
                (up.push_responses if responses else up.push)(reply)
            try:
                result = await getattr(up, method)(*(() if body is None else (body,)))
                if not hasattr(result, "__aiter__"):
                    return result
                return await collect(result)
            finally:
                await up.aclose()

        return asyncio.run(go())

    return call


async def collect(stream: Any) -> tuple[list[Any], bool, BridgeError | None]:
    items: list[Any] = []
    error = None
    try:
        async for batch in stream:
            items += batch
    except BridgeError as exc:
        error = exc
    finally:
        await stream.aclose()
    return items, stream.done, error


def describe(exc: BaseException) -> tuple[type, int, str, str | None] | str:
    assert isinstance(exc, BridgeError)
    if isinstance(exc, UpstreamProtocolError) and "broke off" in exc.message:
        return "broke off"  # how the connection broke is the transport's own wording; that it broke is the contract
    # The scripted server's port changes from run to run.
    return type(exc), exc.status, re.sub(r"http://127\.0\.0\.1:\d+/v1", "{base}", exc.message), exc.code


def outcome(through: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    try:
        return through(*args, **kw)
    except BridgeError as exc:
        return describe(exc)


CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
STREAM = {**CHAT, "stream": True}
REPLIES = {
    "answer": s.answer("Hello there", reasoning_content="Let me think", pieces=3),
    "tool call": s.answer(None, tool_calls=[{"id": "c1", "name": "f", "arguments": '{"a": 1}'}]),
    "400": s.json(s.error_body("context too long", code="context_length_exceeded"), status=400),
    "404 text": s.json(b"no such route", status=404),
    "500 empty": s.json(b"", status=500),
    "garbage": s.garbage(),
    "error in 200": s.json({"error": {"message": "overloaded"}}),
}
STREAM_REPLIES = {
    **{k: v for k, v in REPLIES.items() if k != "error in 200"},
    "dropped": s.drop_after([s.chunk(content="a"), s.chunk(content="b")]),
    "no [DONE]": s.sse([s.chunk(content="a")], done=False),
    "error event": s.sse([s.chunk(content="a"), {"error": {"message": "CUDA out of memory"}}]),
    "broken chunk": s.sse([s.chunk(content="a"), "{broken"]),
    "crlf and comments": s.sse([b': ping\r\n\r\ndata: {"choices":[{"index":0,"delta":{"content":"x"}}]}\r\n\r\n']),
}


@pytest.mark.parametrize("name", REPLIES)
def test_chat(through: Callable[..., Any], name: str):
    assert outcome(through, REPLIES[name], "chat", CHAT) == EXPECTED_CHAT[name]


@pytest.mark.parametrize("name", STREAM_REPLIES)
def test_chat_stream(through: Callable[..., Any], name: str):
    got = outcome(through, STREAM_REPLIES[name], "chat_stream", STREAM)
    if isinstance(got, tuple) and len(got) == 3:  # items, done, error
        items, done, error = got
        got = (items, done, None if error is None else describe(error))
    assert got == EXPECTED_STREAM[name]


def test_responses_stream(through: Callable[..., Any]):
    events = [{"type": "response.created", "response": {"id": "r"}}, {"type": "response.completed"}]
    items, done, error = through(s.responses_sse(events), "responses_stream", {"input": "hi", "stream": True},
                                 responses=True)
    assert (items, done, error) == ([("response.created", events[0]), ("response.completed", events[1])], False, None)
    items, done, error = through(s.responses_sse(events, names=False, done=True), "responses_stream",
                                 {"input": "hi", "stream": True}, responses=True)
    assert (items, done, error) == ([(None, events[0]), (None, events[1])], True, None)


def test_responses_of_a_chat_only_server_is_a_missing_route(through: Callable[..., Any]):
    """A route the upstream does not have is the bridge's business (502), but its 404 stays known: that is
    how a chat-only upstream is told from one that serves Responses."""
    with pytest.raises(UpstreamError) as err:
        through(None, "responses", {"input": "hi"}, responses=False)
    assert (err.value.status, err.value.upstream_status, err.value.code) == (502, 404, "upstream_not_found")
    assert "POST http://127.0.0.1:" in err.value.message and "/v1/responses" in err.value.message


def test_models(through: Callable[..., Any]):
    assert [m["id"] for m in through(None, "models")["data"]] == ["scripted-model"]


# What both implementations must answer, written down once (not taken from either of them).
def _completion(content: str | None, **kw: Any) -> dict[str, Any]:
    return s.completion(content, **kw)


EXPECTED_CHAT: dict[str, Any] = {
    "answer": _completion("Hello there", reasoning_content="Let me think"),
    "tool call": _completion(None, tool_calls=[{"id": "c1", "name": "f", "arguments": '{"a": 1}'}]),
    "400": (UpstreamError, 400, "Upstream error 400: context too long", "context_length_exceeded"),
    "404 text": (UpstreamError, 502, "The upstream has no route POST {base}/chat/completions (it answered 404: no "
                 "such route). " + BASE_URL_HINT, "upstream_not_found"),
    "500 empty": (UpstreamError, 500, "Upstream error 500: (empty body)", "upstream_error"),
    "garbage": (UpstreamProtocolError, 502, "The upstream answered POST {base}/chat/completions with an HTML page "
                "(502 oops), not JSON. " + BASE_URL_HINT, "upstream_bad_response"),
    "error in 200": (UpstreamError, 502, "Upstream error 502: overloaded", "upstream_error"),
}


def _texts(*parts: str) -> list[dict[str, Any]]:
    return [s.chunk(content=p) for p in parts]


ANSWER_CHUNKS = s._answer_chunks(s.answer("Hello there", reasoning_content="Let me think", pieces=3))
TOOL_CHUNKS = s._answer_chunks(s.answer(None, tool_calls=[{"id": "c1", "name": "f", "arguments": '{"a": 1}'}]))
NOT_JSON = "The upstream sent a stream event that is not JSON: "
EXPECTED_STREAM: dict[str, Any] = {
    "answer": (ANSWER_CHUNKS, True, None),
    "tool call": (TOOL_CHUNKS, True, None),
    "400": EXPECTED_CHAT["400"],
    "404 text": EXPECTED_CHAT["404 text"],
    "500 empty": EXPECTED_CHAT["500 empty"],
    "garbage": ([], False, (UpstreamProtocolError, 502, NOT_JSON + "b'this is not json'", "upstream_bad_response")),
    "dropped": (_texts("a", "b"), False, "broke off"),
    "no [DONE]": (_texts("a"), False, None),
    "error event": (_texts("a"), False, (UpstreamError, 502, "Upstream error 502: CUDA out of memory",
                                         "upstream_error")),
    "broken chunk": (_texts("a"), False, (UpstreamProtocolError, 502, NOT_JSON + "b'{broken'",
                                          "upstream_bad_response")),
    "crlf and comments": ([{"choices": [{"index": 0, "delta": {"content": "x"}}]}], True, None),
}


def test_a_callable_script_sees_the_request(through: Callable[..., Any]):
    def reply(received: Any) -> Any:
        assert (received.method, received.path) == ("POST", "/v1/chat/completions")
        assert received.body == STREAM and received.stream
        return s.sse([s.chunk(content=received.body["messages"][0]["content"].upper())])

    items, done, error = through(reply, "chat_stream", STREAM)
    assert [c["choices"][0]["delta"]["content"] for c in items] == ["HI"] and done and error is None


# The pass-through stream: every event as it came (not parsed, so not judged), [DONE] ending it.
def _raw(*chunks: Any) -> list[tuple[None, bytes]]:
    return [(None, s._dumps(c) if isinstance(c, dict) else c.encode()) for c in chunks]


EXPECTED_RAW: dict[str, Any] = {
    "answer": (_raw(*ANSWER_CHUNKS), True, None),
    "tool call": (_raw(*TOOL_CHUNKS), True, None),
    "400": EXPECTED_CHAT["400"],
    "404 text": EXPECTED_CHAT["404 text"],
    "500 empty": EXPECTED_CHAT["500 empty"],
    "garbage": (_raw("this is not json", "{broken", "<html>"), True, None),
    "dropped": (_raw(*_texts("a", "b")), False, "broke off"),
    "no [DONE]": (_raw(*_texts("a")), False, None),
    "error event": (_raw(*_texts("a"), {"error": {"message": "CUDA out of memory"}}), True, None),
    "broken chunk": (_raw(*_texts("a"), "{broken"), True, None),
    "crlf and comments": ([(None, b'{"choices":[{"index":0,"delta":{"content":"x"}}]}')], True, None),
}


@pytest.mark.parametrize("name", STREAM_REPLIES)
def test_chat_stream_raw(through: Callable[..., Any], name: str):
    got = outcome(through, STREAM_REPLIES[name], "chat_stream_raw", STREAM)
    if isinstance(got, tuple) and len(got) == 3:  # items, done, error
        items, done, error = got
        got = (items, done, None if error is None else describe(error))
    assert got == EXPECTED_RAW[name]


def test_chat_stream_raw_keeps_the_bytes(through: Callable[..., Any]):
    """What a parse and a re-serialization would change (escapes, number formats, spacing) stays as it came."""
    payload = b'{"choices": [{"index":0,"delta":{"content":"caf\\u00e9"}}], "x": 1.50e0}'
    items, done, error = through(s.sse([b"data: " + payload + b"\n\n"]), "chat_stream_raw", STREAM)
    assert (items, done, error) == ([(None, payload)], True, None)
