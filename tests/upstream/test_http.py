"""The HTTP upstream against a real (scripted) server: every way an upstream fails becomes one clear
BridgeError, streams come out decoded and parsed, and the upstream's timeouts are enforced here."""

import asyncio
import socket
import time

import pytest

from openai_bridge.errors import BridgeError, UpstreamError, UpstreamProtocolError, UpstreamTimeout, UpstreamUnreachable
from openai_bridge.settings import Timeouts
from openai_bridge.testing import ScriptedUpstream
from openai_bridge.testing import scripted as s
from openai_bridge.upstream.errors import chat_chunk
from openai_bridge.upstream.http import HTTPUpstream
from tests.support.pages import NGINX_404, page_server

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
        client = HTTPUpstream(server.base_url, api_key=api_key, timeouts=timeouts)
        try:
            return await getattr(client, method)(*args)
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_sends_json_with_key_to_chat_completions(up):
    up.push(s.json(COMPLETION))
    assert call(up, "chat", {"model": "m"}, api_key="sk-1") == COMPLETION
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
        call(up, "chat", {"model": "m"})
    assert err.value.status == status
    assert expected in err.value.message
    assert err.value.body()["error"]["message"].startswith(f"Upstream error {status}")


def test_error_code_from_upstream_is_kept(up):
    up.push(s.json({"error": {"message": "nope", "code": "model_not_found", "param": "model"}}, status=400))
    with pytest.raises(UpstreamError) as err:
        call(up, "chat", {"model": "m"})
    assert (err.value.code, err.value.param) == ("model_not_found", "model")


def test_error_type_follows_upstream_or_status(up):
    def bad(status, body):
        up.push(s.json(body, status=status))
        with pytest.raises(UpstreamError) as err:
            call(up, "chat", {})
        return err.value.body()["error"]["type"]

    assert bad(400, {"error": {"message": "too long", "type": "context_length_exceeded"}}) == "context_length_exceeded"
    assert bad(404, {"error": "model not found"}) == "invalid_request_error"
    assert bad(500, {"error": "boom"}) == "upstream_error"


def test_non_json_body_is_a_protocol_error(up):
    up.push(s.garbage())
    with pytest.raises(UpstreamProtocolError):
        call(up, "chat", {})


def test_error_inside_200_body(up):
    up.push(s.json({"error": {"message": "overloaded"}}))
    with pytest.raises(UpstreamError, match="overloaded"):
        call(up, "chat", {})


def unreachable(base_url: str, **kw) -> UpstreamUnreachable:
    """The error of a chat request to `base_url` (`{port}` in it: a port bound but never listening)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))

        async def go():
            client = HTTPUpstream(base_url.format(port=sock.getsockname()[1]), **kw)
            try:
                await client.chat({})
            finally:
                await client.aclose()

        with pytest.raises(UpstreamUnreachable) as err:
            asyncio.run(go())
    return err.value


def test_unreachable_names_the_url_and_the_setting():
    error = unreachable("http://127.0.0.1:{port}/v1")
    assert error.status == 502
    assert error.message.startswith("Cannot reach the upstream at http://127.0.0.1:")
    assert error.message.endswith("/v1: connection refused (check REMOTE_OPENAI_BASE_URL, and that the model server "
                                  "is running).")


@pytest.mark.parametrize("method", ["chat", "chat_stream"])
def test_a_missing_route_names_the_url_called_without_its_password(up, method):
    up.push(s.json(NGINX_404, status=404))
    base = up.base_url.replace("http://", "http://user:hunter2-pw@")

    async def go():
        client = HTTPUpstream(base)
        try:
            await getattr(client, method)({"model": "m", "stream": method == "chat_stream"})
        finally:
            await client.aclose()

    with pytest.raises(UpstreamError) as err:
        asyncio.run(go())
    e = err.value
    assert (e.status, e.code, e.upstream_status) == (502, "upstream_not_found", 404)
    shown = up.base_url.replace("http://", "http://user:***@") + "/chat/completions"
    assert e.message.startswith(f"The upstream has no route POST {shown} (it answered 404: 404 Not Found "
                                "(an HTML page))")
    assert "hunter2-pw" not in e.message and "REMOTE_OPENAI_BASE_URL" in e.message


def test_a_missing_model_list_names_the_url_called():
    with page_server() as site:
        async def go():
            client = HTTPUpstream(site + "/v1")
            try:
                await client.models()
            finally:
                await client.aclose()

        with pytest.raises(UpstreamError) as err:
            asyncio.run(go())
    assert (err.value.status, err.value.code, err.value.upstream_status) == (502, "upstream_not_found", 404)
    assert f"has no route GET {site}/v1/models" in err.value.message


def test_read_timeout(up):
    up.push(s.hang(5))
    with pytest.raises(UpstreamTimeout) as err:
        call(up, "chat", {}, timeouts=Timeouts(first_byte=0.2))
    assert err.value.status == 504
    assert err.value.message.endswith("did not answer within 0.2 s (BRIDGE_UPSTREAM_TIMEOUT).")


async def _collect(server, body=None, timeouts=None):
    client = HTTPUpstream(server.base_url, timeouts=timeouts)
    try:
        stream = await client.chat_stream(body or {"stream": True})
        batches = []
        try:
            async for batch in stream:
                batches.append(batch)
            return [c for b in batches for c in b], stream.done
        finally:
            await stream.aclose()
    finally:
        await client.aclose()


def test_stream_chunks_and_done(up):
    up.push(s.sse([b'data: {"choices":[{"index":0,"delta":{"content":"a"}}]}\r\n\r\n: ping\n\n']))
    chunks, done = asyncio.run(_collect(up))
    assert chunks == [{"choices": [{"index": 0, "delta": {"content": "a"}}]}]
    assert done


def test_stream_connection_is_reused_after_done(up):
    async def two():
        client = HTTPUpstream(up.base_url)
        try:
            for _ in range(2):
                up.push(s.sse([s.chunk(content="a")]))
                stream = await client.chat_stream({"stream": True})
                async for _batch in stream:
                    pass
                await stream.aclose()
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


def test_stream_garbage_is_a_protocol_error(up):
    with pytest.raises(UpstreamProtocolError):
        chat_chunk(b"this is not json")
    up.push(s.garbage())
    with pytest.raises(UpstreamProtocolError):
        asyncio.run(_collect(up))


def test_stream_error_event():
    with pytest.raises(UpstreamError, match="CUDA out of memory"):
        chat_chunk(b'{"error": {"message": "CUDA out of memory"}}')


def test_stream_refused_with_status(up):
    up.push(s.json({"error": {"message": "context too long"}}, status=400))
    with pytest.raises(UpstreamError) as err:
        asyncio.run(_collect(up))
    assert err.value.status == 400 and "context too long" in err.value.message


def test_stream_first_byte_timeout_covers_the_headers(up):
    up.push(s.hang(5))
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        asyncio.run(_collect(up, timeouts=Timeouts(first_byte=0.3, idle=5)))
    assert time.monotonic() - started < 2


def test_stream_first_byte_timeout_until_the_first_chunk(up):
    up.push(s.sse([s.chunk(content="a")], first_delay=3))
    with pytest.raises(UpstreamTimeout, match=r"0.3 s \(BRIDGE_UPSTREAM_TIMEOUT\)"):
        asyncio.run(_collect(up, timeouts=Timeouts(first_byte=0.3, idle=5)))


def test_stream_idle_timeout_between_chunks(up):
    up.push(s.sse([s.chunk(content="a"), s.pause(0.2), s.chunk(content="b"), s.pause(3), s.chunk(content="c")]))
    with pytest.raises(UpstreamTimeout, match=r"0.5 s \(BRIDGE_UPSTREAM_IDLE_TIMEOUT\)"):
        asyncio.run(_collect(up, timeouts=Timeouts(first_byte=5, idle=0.5)))


def test_stream_slower_than_idle_in_total_is_fine(up):
    """The idle limit is per silence, not for the whole stream."""
    chunks = []
    for i in range(6):
        chunks += [s.chunk(content=str(i)), s.pause(0.15)]
    up.push(s.sse(chunks))
    got, done = asyncio.run(_collect(up, timeouts=Timeouts(first_byte=5, idle=0.4)))
    assert len(got) == 6 and done


KEY = "sk-proj-SECRET0123456789"


def test_upstream_401_is_a_502_about_the_bridges_key_and_never_repeats_it(up):
    up.push(s.json({"error": {"message": f"Incorrect API key provided: {KEY}. You can find your API key at "
                                         "https://platform.openai.com/account/api-keys.",
                              "type": "invalid_request_error", "code": "invalid_api_key"}}, status=401))
    with pytest.raises(UpstreamError) as err:
        call(up, "chat", {}, api_key=KEY)
    e = err.value
    assert (e.status, e.code, e.type) == (502, "upstream_auth_failed", "upstream_error")
    assert KEY not in e.message and KEY not in str(e) and "[redacted]" in e.message
    assert "REMOTE_OPENAI_API_KEY" in e.message


def test_upstream_403_is_a_502_too(up):
    up.push(s.json(b"Forbidden", status=403))
    with pytest.raises(UpstreamError) as err:
        call(up, "chat", {}, api_key=KEY)
    assert (err.value.status, err.value.code) == (502, "upstream_auth_failed")


@pytest.mark.parametrize("reply", [
    s.json({"error": {"message": f"bad request from key {KEY}"}}, status=400),
    s.json(f"upstream crashed; request had Authorization: Bearer {KEY}".encode(), status=500),
    s.json({"error": {"message": f"overloaded ({KEY})"}}),  # an error inside a 200
    s.json(f"<html>{KEY}</html>".encode()),  # not JSON at all
], ids=["400 json", "500 text", "error in 200", "garbage"])
def test_every_upstream_error_text_is_redacted(up, reply):
    up.push(reply)
    with pytest.raises(BridgeError) as err:
        call(up, "chat", {}, api_key=KEY)
    assert KEY not in err.value.message and "[redacted]" in err.value.message


@pytest.mark.parametrize("chunks", [
    [s.chunk(content="a"), {"error": {"message": f"key {KEY} has no quota"}}],
    [s.chunk(content="a"), f"not json {KEY}"],
], ids=["error event", "garbage event"])
def test_stream_error_text_is_redacted(up, chunks):
    up.push(s.sse(chunks))

    async def go():
        client = HTTPUpstream(up.base_url, api_key=KEY)
        stream = await client.chat_stream({"stream": True})
        try:
            with pytest.raises(BridgeError) as err:
                async for _ in stream:
                    pass
            return err.value
        finally:
            await stream.aclose()
            await client.aclose()

    error = asyncio.run(go())
    assert KEY not in error.message and "[redacted]" in error.message


def test_a_password_in_the_url_is_redacted_too():
    error = unreachable("http://user:hunter2-pw@127.0.0.1:{port}/v1")
    assert "hunter2-pw" not in error.message and "user:***@127.0.0.1" in error.message


def test_short_test_keys_are_not_treated_as_secrets(up):
    up.push(s.json({"error": {"message": "x marks the spot"}}, status=400))
    with pytest.raises(UpstreamError) as err:
        call(up, "chat", {}, api_key="x")
    assert "x marks the spot" in err.value.message
