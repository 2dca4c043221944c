"""A WebSocket upgrade on `/v1/responses` is refused with 426 at once, until the WebSocket mode exists.

Codex (with `supports_websockets = true` on its provider) tries a WebSocket first and falls back to HTTP at
once only on a 426; on any other refusal (403, 404, 405) it retries with backoff for about 6 s first
(`tests/clients/test_codex.py::test_websocket_provider_falls_back_to_http_at_once`). The handshake is sent
over a raw socket, as Codex sends it, so that the exact status line, headers and body are seen.
"""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import pytest

from openai_bridge.testing import ScriptedUpstream
from openai_bridge.testing import scripted as s

HANDSHAKE = {
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version": "13",
    "OpenAI-Beta": "responses_websockets=2026-02-06",
    "Authorization": "Bearer test-key",
}


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float


def upgrade(base_url: str, path: str, headers: dict[str, str] | None = None) -> Answer:
    """`GET path` with a WebSocket handshake, on a fresh connection; the server's answer."""
    url = urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=5)
    try:
        started = time.perf_counter()
        conn.request("GET", path, headers={**HANDSHAKE, **(headers or {})})
        r = conn.getresponse()
        body = r.read()
        return Answer(r.status, {k.lower(): v for k, v in r.getheaders()}, body, time.perf_counter() - started)
    finally:
        conn.close()


@pytest.mark.parametrize("path", ["/v1/responses", "/responses"])
def test_websocket_upgrade_is_refused_with_426(bridge_url: str, path: str):
    answer = upgrade(bridge_url, path, {"x-request-id": "req-ws-1"})

    assert answer.status == 426
    assert answer.seconds < 1.0  # at once: no handshake, no wait
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["x-request-id"] == "req-ws-1"
    assert "sec-websocket-accept" not in answer.headers
    error = json.loads(answer.body)["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "websocket_not_supported"
    assert "POST /v1/responses" in error["message"]


def test_other_paths_keep_their_answer(bridge_url: str):
    """Only the responses route has a WebSocket answer; elsewhere an upgrade is refused as before."""
    assert upgrade(bridge_url, "/v1/models").status == 403


def test_http_is_unchanged_after_a_refused_upgrade(bridge_url: str, upstream: ScriptedUpstream,
                                                   http: httpx.Client):
    assert upgrade(bridge_url, "/v1/responses").status == 426
    upstream.push(s.answer("still here"))

    r = http.post("/v1/responses", json={"input": "hi"})

    assert r.status_code == 200
    assert r.json()["output"][0]["content"][0]["text"] == "still here"
    # A plain GET (no upgrade) is what it was: no such HTTP route.
    assert http.get("/v1/responses").status_code == 405
