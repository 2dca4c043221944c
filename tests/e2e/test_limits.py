"""An over-large body is refused from its Content-Length, before the bridge reads (and buffers) it."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import httpx


def test_declared_oversized_body_is_413_without_reading_it(bridge_url: str):
    url = urlsplit(bridge_url)
    with socket.create_connection((url.hostname, url.port), timeout=5) as sock:
        sock.sendall(b"POST /v1/responses HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100000000\r\n\r\n{")
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    error = json.loads(body[body.index(b"{"):body.rindex(b"}") + 1])["error"]
    assert error["code"] == "payload_too_large" and error["type"] == "invalid_request_error"
    assert httpx.get(bridge_url + "/healthz").status_code == 200  # still serving
