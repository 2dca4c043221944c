"""The chat upstream over HTTP (aiohttp). Upstream failures become `BridgeError`s here, at the edge.

aiohttp rather than httpx: its C HTTP parser and `readany()` hand over everything a read brought in one
piece (a fast upstream sends many chunks per TCP read), which the stream path turns into one write to
the client; per request it costs a fraction of httpx's overhead.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson

from ..config import Timeouts
from ..errors import (
    BridgeError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeout,
    UpstreamUnreachable,
)

JSON = dict[str, Any]
_JSON_HEADERS = {"content-type": "application/json"}
_STREAM_HEADERS = {"content-type": "application/json", "accept": "text/event-stream"}


class ChatUpstream:
    """`POST {base}/chat/completions`, stream or not, and `GET {base}/models`."""

    def __init__(self, base_url: str, *, api_key: str | None = None, timeouts: Timeouts | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeouts = timeouts or Timeouts()
        self._headers = {"accept-encoding": "identity"}
        if api_key:
            self._headers["authorization"] = f"Bearer {api_key}"
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        # Made on first use, inside the running loop (aiohttp binds a session to its loop).
        if self._session is None:
            t = self.timeouts
            self._session = aiohttp.ClientSession(
                headers=self._headers,
                connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=30, ttl_dns_cache=300),
                # Non-stream reads wait up to first_byte; stream silences are timed by the service.
                timeout=aiohttp.ClientTimeout(total=None, connect=t.connect, sock_connect=t.connect,
                                              sock_read=t.first_byte),
                auto_decompress=False,
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def complete(self, body: JSON) -> JSON:
        """A non-stream chat completion."""
        data = await self._json("POST", "/chat/completions", orjson.dumps(body))
        if "error" in data and "choices" not in data:
            raise _error_from_body(502, data)
        return data

    async def _json(self, method: str, path: str, content: bytes | None = None) -> JSON:
        """One request whose answer must be a JSON object; every failure as a BridgeError."""
        try:
            async with self._client().request(method, self.base_url + path, data=content,
                                              headers=_JSON_HEADERS if content else None) as resp:
                raw = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _transport_error(exc, self.base_url) from exc
        if status >= 400:
            raise _status_error(status, raw)
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise UpstreamProtocolError(
                f"The upstream answered {method} {path} with a body that is not JSON: {raw[:200]!r}"
            ) from exc
        if not isinstance(data, dict):
            raise UpstreamProtocolError(f"The upstream answered {method} {path} with JSON that is not an object.")
        return data

    async def open_stream(self, body: JSON) -> ChatStream:
        """Send a streaming chat request; returns once the upstream's headers are in."""
        try:
            resp = await self._client().post(self.base_url + "/chat/completions", data=orjson.dumps(body),
                                              headers=_STREAM_HEADERS,
                                              timeout=aiohttp.ClientTimeout(total=None,
                                                                            connect=self.timeouts.connect,
                                                                            sock_connect=self.timeouts.connect,
                                                                            sock_read=None))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _transport_error(exc, self.base_url) from exc
        if resp.status >= 400:
            try:
                content = await resp.read()
            except (aiohttp.ClientError, TimeoutError):
                content = b""
            finally:
                resp.release()
            raise _status_error(resp.status, content)
        return ChatStream(resp)

    async def models(self) -> JSON:
        return await self._json("GET", "/models")


class ChatStream:
    """The raw body of one upstream chat stream, read by read. Always `aclose()` it."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def reads(self) -> AsyncIterator[bytes]:
        """Everything each network read brought (any number of SSE events, or parts of one)."""
        content = self._response.content
        try:
            while True:
                data = await content.readany()
                if not data:
                    return
                yield data
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise UpstreamProtocolError(f"The upstream stream broke off: {exc!r}") from exc

    async def aclose(self, finished: bool = False) -> None:
        """Close the stream; after `[DONE]` (`finished`), the rest of the body is read first so that the
        connection goes back to the pool instead of being dropped."""
        if finished and not self._response.content.at_eof():
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                await asyncio.wait_for(self._response.content.read(), timeout=1.0)
        if self._response.content.at_eof():
            self._response.release()
        else:
            self._response.close()


def parse_event(data: bytes) -> JSON | None:
    """One `data:` payload of a chat stream: the chunk, or None for `[DONE]`."""
    if data == b"[DONE]" or data.strip() == b"[DONE]":
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


def _transport_error(exc: BaseException, base_url: str) -> BridgeError:
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
        return UpstreamUnreachable(f"Cannot reach the upstream at {base_url}: {exc}")
    if isinstance(exc, TimeoutError):
        return UpstreamTimeout(f"The upstream at {base_url} did not answer in time.")
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
