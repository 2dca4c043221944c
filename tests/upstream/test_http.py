"""The chat upstream client: every way an upstream fails becomes one clear BridgeError."""

import asyncio

import httpx
import pytest

from openai_bridge.config import Timeouts
from openai_bridge.errors import UpstreamError, UpstreamProtocolError, UpstreamTimeout, UpstreamUnreachable
from openai_bridge.upstream.http import ChatUpstream

COMPLETION = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}]}


def client(handler, **kw) -> ChatUpstream:
    return ChatUpstream("http://up/v1", transport=httpx.MockTransport(handler), **kw)


def run(coro):
    return asyncio.run(coro)


def test_sends_json_with_key_to_chat_completions():
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["url"] = str(request.url)
        seen["auth"] = request.headers.get("authorization")
        return httpx.Response(200, json=COMPLETION)

    assert run(client(handler, api_key="sk-1").complete({"model": "m"})) == COMPLETION
    assert seen == {"url": "http://up/v1/chat/completions", "auth": "Bearer sk-1"}


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
def test_error_status_keeps_status_and_message(status, body, expected):
    def handler(request):
        if isinstance(body, bytes):
            return httpx.Response(status, content=body)
        return httpx.Response(status, json=body)

    with pytest.raises(UpstreamError) as err:
        run(client(handler).complete({"model": "m"}))
    assert err.value.status == status
    assert expected in err.value.message
    assert err.value.body()["error"]["message"].startswith(f"Upstream error {status}")


def test_error_code_from_upstream_is_kept():
    def handler(request):
        return httpx.Response(400, json={"error": {"message": "nope", "code": "model_not_found", "param": "model"}})

    with pytest.raises(UpstreamError) as err:
        run(client(handler).complete({"model": "m"}))
    assert (err.value.code, err.value.param) == ("model_not_found", "model")


def test_non_json_body_is_a_protocol_error():
    with pytest.raises(UpstreamProtocolError):
        run(client(lambda r: httpx.Response(200, content=b"<html>hello</html>")).complete({}))


def test_error_inside_200_body():
    with pytest.raises(UpstreamError):
        run(client(lambda r: httpx.Response(200, json={"error": {"message": "overloaded"}})).complete({}))


def test_unreachable():
    def handler(request):
        raise httpx.ConnectError("connection refused")

    with pytest.raises(UpstreamUnreachable) as err:
        run(client(handler).complete({}))
    assert err.value.status == 502


def test_read_timeout():
    def handler(request):
        raise httpx.ReadTimeout("slow")

    with pytest.raises(UpstreamTimeout) as err:
        run(client(handler, timeouts=Timeouts(first_byte=0.1)).complete({}))
    assert err.value.status == 504


def _stream_of(data: bytes) -> ChatUpstream:
    return client(lambda r: httpx.Response(200, content=data, headers={"content-type": "text/event-stream"}))


async def _collect(up: ChatUpstream):
    stream = await up.open_stream({"stream": True})
    try:
        return [c async for c in stream.chunks()], stream.finished
    finally:
        await stream.aclose()


def test_stream_chunks_and_done():
    data = b'data: {"choices":[{"index":0,"delta":{"content":"a"}}]}\r\n\r\n: ping\n\ndata: [DONE]\n\n'
    chunks, finished = run(_collect(_stream_of(data)))
    assert chunks == [{"choices": [{"index": 0, "delta": {"content": "a"}}]}]
    assert finished


def test_stream_without_done_is_not_finished():
    chunks, finished = run(_collect(_stream_of(b'data: {"choices":[]}\n\n')))
    assert chunks == [{"choices": []}] and not finished


def test_stream_garbage_is_a_protocol_error():
    with pytest.raises(UpstreamProtocolError):
        run(_collect(_stream_of(b"data: this is not json\n\n")))


def test_stream_error_event():
    with pytest.raises(UpstreamError) as err:
        run(_collect(_stream_of(b'data: {"error": {"message": "CUDA out of memory"}}\n\n')))
    assert "CUDA out of memory" in err.value.message


def test_stream_refused_with_status():
    up = client(lambda r: httpx.Response(400, json={"error": {"message": "context too long"}}))
    with pytest.raises(UpstreamError) as err:
        run(up.open_stream({"stream": True}))
    assert err.value.status == 400 and "context too long" in err.value.message


def test_error_type_follows_upstream_or_status():
    def bad(status, body):
        with pytest.raises(UpstreamError) as err:
            run(client(lambda r: httpx.Response(status, json=body)).complete({}))
        return err.value.body()["error"]["type"]

    assert bad(400, {"error": {"message": "too long", "type": "context_length_exceeded"}}) == "context_length_exceeded"
    assert bad(404, {"error": "model not found"}) == "invalid_request_error"
    assert bad(500, {"error": "boom"}) == "upstream_error"
