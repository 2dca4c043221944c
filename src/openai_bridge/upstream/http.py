"""The chat upstream over HTTP (httpx). Upstream failures become `BridgeError`s here, at the edge."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson

from ..config import Timeouts
from ..errors import (
    BridgeError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from ..wire.sse import SSEDecoder

JSON = dict[str, Any]


class ChatUpstream:
    """`POST {base}/chat/completions`, stream or not, and `GET {base}/models`.

    `transport` is the httpx seam: tests and embedders can pass `httpx.MockTransport`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeouts: Timeouts | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeouts = timeouts or Timeouts()
        headers = {"accept-encoding": "identity"}
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        t = self.timeouts
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            # read covers the wait for the first byte of a non-stream answer; stream silences are
            # timed by the service, which also sends keepalives meanwhile.
            timeout=httpx.Timeout(connect=t.connect, read=t.first_byte, write=t.connect, pool=t.connect),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=256, keepalive_expiry=30),
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def complete(self, body: JSON) -> JSON:
        """A non-stream chat completion."""
        data = await self._json("POST", "/chat/completions", orjson.dumps(body))
        if "error" in data and "choices" not in data:
            raise _error_from_body(502, data)
        return data

    async def _json(self, method: str, path: str, content: bytes | None = None) -> JSON:
        """One request whose answer must be a JSON object; every failure as a BridgeError."""
        try:
            resp = await self._client.request(method, path, content=content,
                                              headers={"content-type": "application/json"} if content else None)
        except httpx.HTTPError as exc:
            raise _transport_error(exc, self.base_url) from exc
        if resp.status_code >= 400:
            raise _status_error(resp.status_code, resp.content)
        try:
            data = orjson.loads(resp.content)
        except orjson.JSONDecodeError as exc:
            raise UpstreamProtocolError(
                f"The upstream answered {method} {path} with a body that is not JSON: {resp.content[:200]!r}"
            ) from exc
        if not isinstance(data, dict):
            raise UpstreamProtocolError(f"The upstream answered {method} {path} with JSON that is not an object.")
        return data

    async def open_stream(self, body: JSON) -> ChatStream:
        """Send a streaming chat request; returns once the upstream's headers are in."""
        request = self._client.build_request(
            "POST", "/chat/completions", content=orjson.dumps(body),
            headers={"content-type": "application/json", "accept": "text/event-stream"},
        )
        try:
            resp = await self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise _transport_error(exc, self.base_url) from exc
        if resp.status_code >= 400:
            try:
                content = await resp.aread()
            except httpx.HTTPError:
                content = b""
            finally:
                await resp.aclose()
            raise _status_error(resp.status_code, content)
        return ChatStream(resp)

    async def models(self) -> JSON:
        return await self._json("GET", "/models")


class ChatStream:
    """The chunks of one upstream chat stream. Iterate, then `aclose()` (always)."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self.finished = False  # saw [DONE]

    async def chunks(self) -> AsyncIterator[JSON]:
        decoder = SSEDecoder()
        try:
            async for raw in self._response.aiter_bytes():
                for data in decoder.feed(raw):
                    chunk = self._parse(data)
                    if chunk is None:
                        return
                    yield chunk
            for data in decoder.close():
                chunk = self._parse(data)
                if chunk is None:
                    return
                yield chunk
        except httpx.HTTPError as exc:
            raise UpstreamProtocolError(f"The upstream stream broke off: {exc}") from exc

    def _parse(self, data: bytes) -> JSON | None:
        if data.strip() == b"[DONE]":
            self.finished = True
            return None
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise UpstreamProtocolError(f"The upstream sent a stream event that is not JSON: {data[:200]!r}") from exc
        if not isinstance(chunk, dict):
            raise UpstreamProtocolError("The upstream sent a stream event that is not a JSON object.")
        if "error" in chunk and "choices" not in chunk:
            raise _error_from_body(502, chunk)
        return chunk

    async def aclose(self) -> None:
        await self._response.aclose()


def _transport_error(exc: httpx.HTTPError, base_url: str) -> BridgeError:
    if isinstance(exc, httpx.TimeoutException):
        if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
            return UpstreamUnreachable(f"Timed out connecting to the upstream at {base_url}.")
        return UpstreamTimeout(f"The upstream at {base_url} did not answer in time.")
    if isinstance(exc, httpx.ConnectError):
        return UpstreamUnreachable(f"Cannot reach the upstream at {base_url}: {exc}")
    return UpstreamProtocolError(f"The upstream connection failed: {exc!r}")


def _status_error(status: int, content: bytes) -> BridgeError:
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict):
        return _error_from_body(status, body)
    text = content.decode("utf-8", "replace").strip()[:500] or "(empty body)"
    return UpstreamError(f"Upstream error {status}: {text}", status=status)


def _error_from_body(status: int, body: JSON) -> BridgeError:
    """Upstreams shape errors differently: OpenAI/vLLM `{"error": {...}}`, Ollama and llama.cpp
    `{"error": "..."}` or `{"error": {"message", "code"}}`, FastAPI `{"detail": ...}`."""
    err = body.get("error", body.get("detail", body))
    param = code = None
    if isinstance(err, dict):
        message = err.get("message") or orjson.dumps(err).decode()
        param = err.get("param") if isinstance(err.get("param"), str) else None
        code = err.get("code") if isinstance(err.get("code"), str) else None
    else:
        message = str(err)
    error = UpstreamError(f"Upstream error {status}: {message}", status=status, param=param,
                          code=code or "upstream_error")
    # A 4xx is about the request the client made (context too long, unknown model): say so as OpenAI does.
    upstream_type = err.get("type") if isinstance(err, dict) else None
    if isinstance(upstream_type, str) and upstream_type:
        error.type = upstream_type
    elif 400 <= status < 500:
        error.type = "invalid_request_error"
    return error
