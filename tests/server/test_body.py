"""Request bodies: bounded while they are read (with or without Content-Length), gzip and zstd accepted
within the same bound, other encodings refused, and limits on nesting, input items and tools, each a 4xx
naming its limit."""

from __future__ import annotations

import asyncio
import gzip
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pytest
import zstandard

from openai_bridge.server.app import create_app
from openai_bridge.settings import Limits, Settings
from openai_bridge.testing import FakeUpstream, running_bridge

LIMITS = Limits(max_body_mb=1, max_json_depth=16, max_input_items=5, max_tools=3)
MB = 1024 * 1024


def post(content: bytes, headers: dict[str, str] | None = None) -> tuple[httpx.Response, FakeUpstream]:
    upstream = FakeUpstream()
    app = create_app(Settings(default_model="m", reasoning_key="k", store="memory", limits=LIMITS), upstream=upstream)

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bridge") as client:
            return await client.post("/v1/responses", content=content,
                                     headers={"content-type": "application/json", **(headers or {})})

    return asyncio.run(go()), upstream


def error(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    return err


BODY = orjson.dumps({"input": "hi"})


@pytest.mark.parametrize(("encoding", "compress"), [
    ("gzip", gzip.compress),
    ("zstd", zstandard.ZstdCompressor().compress),
    ("identity", lambda b: b),
])
def test_compressed_bodies_are_accepted(encoding: str, compress: Any):
    resp, upstream = post(compress(BODY), {"content-encoding": encoding})
    assert resp.status_code == 200, resp.text
    assert chat_calls(upstream)[0]["messages"] == [{"role": "user", "content": "hi"}]


def test_zstd_as_codex_sends_it_streamed_without_a_content_size():
    """Codex compresses with a streaming encoder: the frame does not say its decompressed size."""
    compressor = zstandard.ZstdCompressor().compressobj()
    blob = compressor.compress(BODY) + compressor.flush()
    resp, _ = post(blob, {"content-encoding": "zstd"})
    assert resp.status_code == 200, resp.text


@pytest.mark.parametrize("encoding", ["br", "deflate", "compress", "gzip, zstd"])
def test_an_unknown_encoding_is_415(encoding: str):
    err = error(post(BODY, {"content-encoding": encoding})[0], 415)
    assert err["code"] == "unsupported_content_encoding" and err["type"] == "invalid_request_error"


@pytest.mark.parametrize("encoding", ["gzip", "zstd"])
def test_a_corrupt_compressed_body_is_400(encoding: str):
    err = error(post(b"\x1f\x8b\x08 definitely not compressed", {"content-encoding": encoding})[0], 400)
    assert err["code"] == "invalid_body"


@pytest.mark.parametrize(("encoding", "compress"), [("gzip", gzip.compress),
                                                    ("zstd", zstandard.ZstdCompressor().compress)])
def test_a_body_that_inflates_past_the_limit_is_413(encoding: str, compress: Any):
    bomb = compress(b'{"input": "' + b"a" * (3 * MB) + b'"}')
    assert len(bomb) < MB / 10
    err = error(post(bomb, {"content-encoding": encoding})[0], 413)
    assert err["code"] == "payload_too_large" and err["type"] == "invalid_request_error"
    assert "BRIDGE_MAX_BODY_MB" in err["message"] and "decompressed" in err["message"]


def test_a_body_over_the_limit_is_413_invalid_request_error():
    err = error(post(b'{"input": "' + b"a" * (2 * MB) + b'"}')[0], 413)
    assert err["type"] == "invalid_request_error" and "1 MB" in err["message"]


def unfinished_post(url: str, head: bytes, parts: list[bytes]) -> tuple[bytes, float]:
    """Send a request's head and some of its body, never the end; the answer, and how long it took after
    the last part went out."""
    where = urlsplit(url)
    with socket.create_connection((where.hostname, where.port), timeout=10) as sock:
        sock.sendall(b"POST /v1/responses HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + head
                     + b"\r\n")
        for part in parts:
            sock.sendall(part)
        started = time.monotonic()
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    return answer, time.monotonic() - started


def assert_413(answer: bytes) -> None:
    assert answer.startswith(b"HTTP/1.1 413")
    error = orjson.loads(answer[answer.index(b"{"):answer.rindex(b"}") + 1])["error"]
    assert error["code"] == "payload_too_large" and error["type"] == "invalid_request_error"


def test_a_declared_length_over_the_limit_is_refused_before_reading_the_body():
    with running_bridge(Settings(default_model="m", limits=LIMITS), upstream=FakeUpstream()) as url:
        answer, _ = unfinished_post(url, b"Content-Length: 100000000\r\n", [b"{"])
        assert_413(answer)
        assert httpx.get(url + "/healthz").status_code == 200  # still serving


def test_a_chunked_body_over_the_limit_is_refused_while_it_is_read():
    """No Content-Length: the answer comes as soon as the limit is passed, before the client has finished."""
    piece = b"a" * (256 * 1024)
    chunk = b"%x\r\n%b\r\n" % (len(piece), piece)
    with running_bridge(Settings(default_model="m", limits=LIMITS), upstream=FakeUpstream()) as url:
        answer, waited = unfinished_post(url, b"Transfer-Encoding: chunked\r\n", [chunk] * 6)  # 1.5 MB, no end
        assert waited < 5
        assert_413(answer)
        assert httpx.get(url + "/healthz").status_code == 200


def nested(depth: int) -> object:
    value: object = "leaf"
    for _ in range(depth - 1):
        value = {"x": value}
    return value


def test_nesting_up_to_the_limit_is_fine():
    resp, _ = post(orjson.dumps({"input": "hi", "metadata": nested(15)}))  # the body's own level makes 16
    assert resp.status_code == 200, resp.text


@pytest.mark.parametrize("depth", [17, 2000])
def test_nesting_deeper_than_the_limit_is_400_naming_it(depth: int):
    body = b'{"input": "hi", "metadata": ' + b'{"x": ' * depth + b'"leaf"' + b"}" * depth + b"}"
    err = error(post(body)[0], 400)
    assert err["code"] == "json_too_deep" and "16 levels" in err["message"]
    assert "BRIDGE_MAX_JSON_DEPTH" in err["message"]


def test_too_many_input_items_is_400_naming_the_limit():
    items = [{"role": "user", "content": str(n)} for n in range(6)]
    err = error(post(orjson.dumps({"input": items}))[0], 400)
    assert (err["param"], err["code"]) == ("input", "too_many_input_items")
    assert "at most 5" in err["message"] and "BRIDGE_MAX_INPUT_ITEMS" in err["message"]
    assert post(orjson.dumps({"input": items[:5]}))[0].status_code == 200


def test_too_many_tools_is_400_naming_the_limit_counting_namespaces():
    fn = [{"type": "function", "name": f"f{n}", "parameters": {"type": "object"}} for n in range(3)]
    namespace = {"type": "namespace", "name": "ns", "description": "d", "tools": fn[:2]}
    err = error(post(orjson.dumps({"input": "hi", "tools": [fn[0], namespace]}))[0], 400)
    assert (err["param"], err["code"]) == ("tools", "too_many_tools") and "BRIDGE_MAX_TOOLS" in err["message"]
    assert post(orjson.dumps({"input": "hi", "tools": fn}))[0].status_code == 200


def chat_calls(upstream: FakeUpstream) -> list[Any]:
    """The chat requests the bridge sent (in auto mode a first attempt went to /responses, answered 404)."""
    return [body for method, body in upstream.calls if method.startswith("chat")]
