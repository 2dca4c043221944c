"""A client that stops reading for longer than the upstream's idle timeout loses nothing.

The app is driven through ASGI directly, with a `send` that blocks (as it does when a client stops
reading and the socket buffers are full) for 1.5 s while the real HTTP upstream client reads a real
scripted upstream whose chunks come every 0.1 s; the idle timeout is 0.6 s (and the keepalive interval
longer, so that no keepalive is due meanwhile). The upstream is never silent, so the stream must complete,
every event present and numbered without a gap. (Before runs had a producer of their own, the blocked write
stopped the upstream reads: `upstream_timeout`, and the batch being written lost: sequence 0, 1, then 5.)
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from openai_bridge.server.app import create_app
from openai_bridge.settings import Settings, Timeouts
from openai_bridge.testing import ScriptedUpstream, chunk, pause, sse


async def post(app: Any, body: bytes, *, block_at: int, block_for: float) -> list[bytes]:
    """POST /v1/responses; the `block_at`-th body write blocks for `block_for` seconds."""
    requests = [{"type": "http.request", "body": body, "more_body": False}]
    done = asyncio.Event()
    written: list[bytes] = []

    async def receive() -> dict[str, Any]:
        if requests:
            return requests.pop(0)
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            if len(written) == block_at:
                await asyncio.sleep(block_for)
            written.append(message["body"])
            if not message.get("more_body"):
                done.set()

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/v1/responses", "raw_path": b"/v1/responses", "query_string": b"", "root_path": "",
             "headers": [(b"content-type", b"application/json")], "client": ("127.0.0.1", 1),
             "server": ("bridge", 80)}
    await app(scope, receive, send)
    return written


async def served(app: Any, body: bytes) -> list[bytes]:
    async with app.router.lifespan_context(app):  # closes the upstream client at the end
        return await post(app, body, block_at=1, block_for=1.5)


def test_client_that_stops_reading_gets_every_event():
    chunks = [chunk(role="assistant")]
    for i in range(20):
        chunks += [chunk(content=f"{i} "), pause(0.1)]
    with ScriptedUpstream() as up:
        up.push(sse([*chunks, chunk(finish_reason="stop")]))
        settings = Settings(upstream=up.base_url, default_model="m", reasoning_key="k", store="memory", keepalive=5,
                            timeouts=Timeouts(connect=2, first_byte=2, idle=0.6))
        body = orjson.dumps({"input": "hi", "stream": True})
        written = asyncio.run(served(create_app(settings), body))
    events = [orjson.loads(line[6:]) for line in b"".join(written).split(b"\n") if line.startswith(b"data: ")]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[-1]["type"] == "response.completed", events[-1]["response"]["error"]
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == "".join(f"{i} " for i in range(20))
