"""The chat upstream client against a real (scripted) server: every way an upstream fails becomes one
clear BridgeError."""

import asyncio
import socket

import pytest

from openai_bridge.config import Timeouts
from openai_bridge.errors import UpstreamError, UpstreamProtocolError, UpstreamTimeout, UpstreamUnreachable
from openai_bridge.upstream import scripted as s
from openai_bridge.upstream.http import ChatUpstream, parse_event
from openai_bridge.upstream.scripted import ScriptedUpstream
from openai_bridge.wire.sse import SSEDecoder

COMPLETION = s.completion("hi")


@pytest.fixture(scope="module")
def server():
    with ScriptedUpstream() as up:
        yield up


@pytest.fixture
def up(server):
    server.reset()
    return server


def call(server, method, *args, api_key=None, timeouts=None):
    async def go():
        client = ChatUpstream(server.base_url, api_key=api_key, timeouts=timeouts)
        try:
            return await getattr(client, method)(*args)
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_sends_json_with_key_to_chat_completions(up):
    up.push(s.json(COMPLETION))
    assert call(up, "complete", {"model": "m"}, api_key="sk-1") == COMPLETION
    assert up.last.path == "/v1/chat/completions"
    assert up.last.headers["authorization"] == "Bearer sk-1"
    assert up.last.body == {"model": "m"}


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (400, {"error": {"message": "bad model", "type": "invalid_request_error", "code": "model_not_found"}},
         "bad model"),
        (404, {"error": "model 'x' not found"}, "model 'x' not found"),  # Ollama, llama.cpp
        (422, {"detail": [{"msg": "field required"}]}, "field required"),  # FastAPI-based servers
        (503, b"Service Unavailable", "Service Unavailable"),
        (500, b"", "(empty body)"),
    ],
)
def test_error_status_keeps_status_and_message(up, status, body, expected):
    up.push(s.json(body, status=status))
    with pytest.raises(UpstreamError) as err:
        call(up, "complete", {"model": "m"})
    assert err.value.status == status
    assert expected in err.value.message
    assert err.value.body()["error"]["message"].startswith(f"Upstream error {status}")


def test_error_code_from_upstream_is_kept(up):
    up.push(s.json({"error": {"message": "nope", "code": "model_not_found", "param": "model"}}, status=400))
    with pytest.raises(UpstreamError) as err:
        call(up, "complete", {"model": "m"})
    assert (err.value.code, err.value.param) == ("model_not_found", "model")


def test_error_type_follows_upstream_or_status(up):
    def bad(status, body):
        up.push(s.json(body, status=status))
        with pytest.raises(UpstreamError) as err:
            call(up, "complete", {})
        return err.value.body()["error"]["type"]

    assert bad(400, {"error": {"message": "too long", "type": "context_length_exceeded"}}) == "context_length_exceeded"
    assert bad(404, {"error": "model not found"}) == "invalid_request_error"
    assert bad(500, {"error": "boom"}) == "upstream_error"


def test_non_json_body_is_a_protocol_error(up):
    up.push(s.garbage())
    with pytest.raises(UpstreamProtocolError):
        call(up, "complete", {})


def test_error_inside_200_body(up):
    up.push(s.json({"error": {"message": "overloaded"}}))
    with pytest.raises(UpstreamError, match="overloaded"):
        call(up, "complete", {})


def test_unreachable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connection refused

        async def go():
            client = ChatUpstream(f"http://127.0.0.1:{port}/v1")
            try:
                await client.complete({})
            finally:
                await client.aclose()

        with pytest.raises(UpstreamUnreachable) as err:
            asyncio.run(go())
    assert err.value.status == 502


def test_read_timeout(up):
    up.push(s.hang(5))
    with pytest.raises(UpstreamTimeout) as err:
        call(up, "complete", {}, timeouts=Timeouts(first_byte=0.2))
    assert err.value.status == 504


async def _collect(server, body=None):
    client = ChatUpstream(server.base_url)
    stream = await client.open_stream(body or {"stream": True})
    decoder = SSEDecoder()
    chunks, done = [], False
    try:
        async for raw in stream.reads():
            for data in decoder.feed(raw):
                chunk = parse_event(data)
                if chunk is None:
                    done = True
                else:
                    chunks.append(chunk)
        return chunks, done
    finally:
        await stream.aclose(finished=done)
        await client.aclose()


def test_stream_chunks_and_done(up):
    up.push(s.sse([b'data: {"choices":[{"index":0,"delta":{"content":"a"}}]}\r\n\r\n: ping\n\n']))
    chunks, done = asyncio.run(_collect(up))
    assert chunks == [{"choices": [{"index": 0, "delta": {"content": "a"}}]}]
    assert done


def test_stream_connection_is_reused_after_done(up):
    async def two():
        client = ChatUpstream(up.base_url)
        try:
            for _ in range(2):
                up.push(s.sse([s.chunk(content="a")]))
                stream = await client.open_stream({"stream": True})
                async for _raw in stream.reads():
                    pass
                await stream.aclose(finished=True)
        finally:
            await client.aclose()

    asyncio.run(two())
    assert up.connections == 1


def test_stream_dropped_mid_body_is_a_protocol_error(up):
    up.push(s.drop_after([s.chunk(content="a")]))
    with pytest.raises(UpstreamProtocolError, match="broke off"):
        asyncio.run(_collect(up))


def test_stream_ending_cleanly_without_done(up):
    up.push(s.sse([s.chunk(content="a")], done=False))
    chunks, done = asyncio.run(_collect(up))
    assert len(chunks) == 1 and not done


def test_stream_garbage_is_a_protocol_error():
    with pytest.raises(UpstreamProtocolError):
        parse_event(b"this is not json")


def test_stream_error_event():
    with pytest.raises(UpstreamError, match="CUDA out of memory"):
        parse_event(b'{"error": {"message": "CUDA out of memory"}}')


def test_stream_refused_with_status(up):
    up.push(s.json({"error": {"message": "context too long"}}, status=400))
    with pytest.raises(UpstreamError) as err:
        asyncio.run(_collect(up))
    assert err.value.status == 400 and "context too long" in err.value.message
