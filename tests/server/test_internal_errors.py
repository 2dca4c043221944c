"""A bug of the bridge's reaches the client as a message naming the request id, never as the exception's
text (which may hold anything, upstream data included); the details go to the log under that id."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import orjson
import pytest

from openai_bridge.server.app import create_app
from openai_bridge.settings import Settings
from openai_bridge.testing import FakeUpstream

DETAIL = "boom: secret detail from deep inside"


def crash(received: Any) -> Any:
    raise RuntimeError(DETAIL)


def post(body: dict[str, Any]) -> httpx.Response:
    app = create_app(Settings(default_model="m", reasoning_key="k", store="memory"), upstream=FakeUpstream(crash))

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://bridge") as client:
            return await client.post("/v1/responses", json=body, headers={"x-request-id": "req-bug-1"})

    return asyncio.run(go())


def test_non_stream(caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.ERROR, "openai_bridge"):
        resp = post({"input": "hi"})
    assert resp.status_code == 500 and resp.headers["x-request-id"] == "req-bug-1"
    error = resp.json()["error"]
    assert error["type"] == "server_error" and "req-bug-1" in error["message"]
    assert DETAIL not in resp.text and "RuntimeError" not in resp.text
    assert DETAIL in caplog.text and logged_under("req-bug-1", caplog)


def logged_under(request_id: str, caplog: pytest.LogCaptureFixture) -> bool:
    return any(DETAIL in r.getMessage() + (r.exc_text or "") and r.request_id == request_id  # type: ignore[attr-defined]
               for r in caplog.records)


def test_stream(caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.ERROR, "openai_bridge"):
        resp = post({"input": "hi", "stream": True})
    assert resp.status_code == 200
    events = [orjson.loads(line[6:]) for line in resp.content.split(b"\n") if line.startswith(b"data: ")]
    assert events[-1]["type"] == "response.failed"
    error = events[-1]["response"]["error"]
    assert error["code"] == "server_error" and "req-bug-1" in error["message"]
    assert DETAIL not in resp.text
    assert DETAIL in caplog.text and logged_under("req-bug-1", caplog)
