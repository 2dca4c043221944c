"""The upstream over HTTP (aiohttp): chat completions, Responses, models. Upstream failures become
`BridgeError`s here, at the edge, and the upstream's timeouts are enforced here.

aiohttp rather than httpx: its C HTTP parser and `readany()` hand over everything a read brought in one
piece (a fast upstream sends many chunks per TCP read), which the stream path turns into one pass of the
translator; per request it costs a fraction of httpx's overhead.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import Callable, Iterable
from typing import Any, cast
from urllib.parse import urlsplit

import aiohttp
import orjson

from ..errors import BridgeError, UpstreamProtocolError, UpstreamTimeout, UpstreamUnreachable
from ..settings import Timeouts, shown_url
from ..wire.chat import ChatChunk, ChatCompletion, ChatRequest
from ..wire.models import ModelList
from ..wire.responses import Response, ResponsesRequest
from ..wire.sse import ServerEvent, SSEDecoder, SSEError
from .base import NamedEvent
from .errors import Redactor, chat_completion, chat_event, json_object, named_event, raw_event, status_error

log = logging.getLogger("openai_bridge")
_JSON_HEADERS = {"content-type": "application/json"}
_STREAM_HEADERS = {"content-type": "application/json", "accept": "text/event-stream"}


class HTTPUpstream:
    """`{base}/chat/completions`, `{base}/responses` (each stream or not) and `{base}/models`."""

    def __init__(self, base_url: str, *, api_key: str | None = None, timeouts: Timeouts | None = None,
                 secrets: Iterable[str | None] = ()) -> None:
        """`secrets`: besides `api_key` and a password in `base_url`, what must never be repeated from an
        upstream's answer to a client or a log (e.g. the reasoning key)."""
        self.base_url = base_url.rstrip("/")
        self.timeouts = timeouts or Timeouts()
        password = urlsplit(self.base_url).password
        self._redact = Redactor([api_key, password, *secrets])
        self._shown_url = self._redact(shown_url(self.base_url))
        self._headers = {"accept-encoding": "identity"}
        if api_key:
            self._headers["authorization"] = f"Bearer {api_key}"
        self._session: aiohttp.ClientSession | None = None
        self._owner: HTTPUpstream | None = None  # the upstream whose connections a `with_key` copy uses
        self._get_headers: dict[str, str] = {}
        self._json_headers = _JSON_HEADERS
        self._stream_headers = _STREAM_HEADERS

    def with_key(self, key: str) -> HTTPUpstream:
        """This upstream (the same connections), sending `key` instead of the configured key."""
        clone = copy.copy(self)
        clone._owner = self._owner or self
        auth = {"authorization": f"Bearer {key}"}
        clone._get_headers = auth
        clone._json_headers, clone._stream_headers = _JSON_HEADERS | auth, _STREAM_HEADERS | auth
        clone._redact = self._redact.also(key)
        return clone

    def _client(self) -> aiohttp.ClientSession:
        if self._owner is not None:
            return self._owner._client()
        # Made on first use, inside the running loop (aiohttp binds a session to its loop).
        if self._session is None:
            t = self.timeouts
            self._session = aiohttp.ClientSession(
                headers=self._headers,
                connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=30, ttl_dns_cache=300),
                # Non-stream answers: aiohttp's own read timeout. Streams time themselves (`_Deadline`).
                timeout=aiohttp.ClientTimeout(total=None, connect=t.connect, sock_connect=t.connect,
                                              sock_read=t.first_byte),
                auto_decompress=False,
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    async def aclose(self) -> None:
        if self._owner is None and self._session is not None:
            await self._session.close()

    # ---- the seam

    async def chat(self, request: ChatRequest) -> ChatCompletion:
        data = await self._json("POST", "/chat/completions", orjson.dumps(request))
        try:
            return chat_completion(data)
        except BridgeError as exc:
            raise self._redact.error(exc) from None

    async def chat_stream(self, request: ChatRequest) -> SSEStream[ChatChunk]:
        return await self._stream("/chat/completions", orjson.dumps(request), chat_event)

    async def chat_stream_raw(self, request: ChatRequest) -> SSEStream[ServerEvent]:
        return await self._stream("/chat/completions", orjson.dumps(request), raw_event)

    async def responses(self, request: ResponsesRequest) -> Response:
        data = await self._json("POST", "/responses", orjson.dumps(request))
        return cast(Response, data)

    async def responses_stream(self, request: ResponsesRequest) -> SSEStream[NamedEvent]:
        return await self._stream("/responses", orjson.dumps(request), named_event)

    async def models(self) -> ModelList:
        return cast(ModelList, await self._json("GET", "/models"))

    # ---- plumbing

    async def _json(self, method: str, path: str, content: bytes | None = None) -> dict[str, object]:
        """One request whose answer must be a JSON object; every failure as a BridgeError."""
        try:
            async with await self._send(method, self.base_url + path, data=content,
                                        headers=self._json_headers if content else self._get_headers) as resp:
                raw = await resp.read()
                status = resp.status
                retry_after = resp.headers.get("retry-after")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._redact.error(_transport_error(exc, self._shown_url, self.timeouts)) from exc
        if status >= 400:
            raise self._redact.error(status_error(status, raw, method, self._shown_url + path, retry_after))
        try:
            return json_object(raw, f"{method} {self._shown_url}{path}")
        except BridgeError as exc:
            raise self._redact.error(exc) from None

    async def _send(self, method: str, url: str, **kw: Any) -> aiohttp.ClientResponse:
        """One request, sent again once (on a new connection) when the kept-alive connection it went out on
        turns out to be closed: llama.cpp's server closes its connection after each streamed answer although
        its headers say keep-alive, and the next request would fail on it. The upstream never read it: nothing
        is generated twice."""
        try:
            return await self._client().request(method, url, **kw)
        except aiohttp.ClientConnectorError:  # no connection at all: nothing to retry
            raise
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
            log.debug("the upstream closed a kept-alive connection before answering (%r): sent again", exc)
            return await self._client().request(method, url, **kw)

    async def _stream[T](self, path: str, content: bytes, parse: Parse[T]) -> SSEStream[T]:
        """Send a streaming request; returns once the upstream's headers are in."""
        t = self.timeouts
        deadline = _Deadline(t.first_byte, t.idle)
        try:
            async with asyncio.timeout_at(deadline.at):
                resp = await self._send(
                    "POST", self.base_url + path, data=content, headers=self._stream_headers,
                    timeout=aiohttp.ClientTimeout(total=None, connect=t.connect, sock_connect=t.connect,
                                                  sock_read=None))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._redact.error(_transport_error(exc, self._shown_url, t)) from exc
        if resp.status >= 400:
            try:
                raw = await resp.read()
            except (aiohttp.ClientError, TimeoutError):
                raw = b""
            finally:
                resp.release()
            raise self._redact.error(status_error(resp.status, raw, "POST", self._shown_url + path,
                                                  resp.headers.get("retry-after")))
        deadline.watch(resp.content)
        return SSEStream(resp, deadline, parse, self._redact)


# Parses one decoded SSE event into what the stream hands over, or None when the upstream said [DONE].
type Parse[T] = Callable[[ServerEvent], T | None]


class SSEStream[T]:
    """The SSE body of one upstream answer, as batches of parsed events (one batch per network read)."""

    def __init__(self, response: aiohttp.ClientResponse, deadline: _Deadline, parse: Parse[T],
                 redact: Redactor) -> None:
        self._response = response
        self._deadline = deadline
        self._parse = parse
        self._redact = redact
        self._decoder = SSEDecoder()
        self._error: BridgeError | None = None
        self._eof = False
        self.done = False

    def __aiter__(self) -> SSEStream[T]:
        return self

    async def __anext__(self) -> list[T]:
        content = self._response.content
        while True:
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            if self.done or self._eof:
                raise StopAsyncIteration
            try:
                data = await content.readany()
            except BridgeError:  # the deadline's UpstreamTimeout
                raise
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise self._redact.error(UpstreamProtocolError(f"The upstream stream broke off: {exc!r}")) from exc
            try:
                if data:
                    self._deadline.touch()
                    events = self._decoder.feed(data)
                else:
                    self._eof = True
                    events = self._decoder.close()
            except SSEError as exc:
                raise UpstreamProtocolError(f"The upstream sent {exc}.") from exc
            batch: list[T] = []
            parse = self._parse
            for event in events:
                try:
                    item = parse(event)
                except BridgeError as exc:  # what came before it still goes out
                    self._error = self._redact.error(exc)
                    break
                if item is None:
                    self.done = True
                    break
                batch.append(item)
            if batch:
                return batch

    async def aclose(self) -> None:
        """Close the stream; after `[DONE]`, the rest of the body is read first so that the connection goes
        back to the pool instead of being dropped."""
        self._deadline.cancel()
        content = self._response.content
        if self.done and self._error is None and not content.at_eof():
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, BridgeError):
                await asyncio.wait_for(content.read(), timeout=1.0)
        if content.at_eof() and content.exception() is None:
            self._response.release()
        else:
            self._response.close()


class _Deadline:
    """A stream's upstream timeouts: `first_byte` until the first read, then `idle` between reads.

    One timer per stream, re-armed only when it fires (not per read): when the time is really up, the
    pending read fails with `UpstreamTimeout`, through aiohttp's own way of failing a read.
    """

    __slots__ = ("_loop", "_idle", "_limit", "_created", "_last", "_handle", "_content")

    def __init__(self, first_byte: float, idle: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._idle = idle
        self._limit = first_byte
        self._last = self._created = self._loop.time()
        self._handle: asyncio.TimerHandle | None = None
        self._content: aiohttp.StreamReader | None = None

    @property
    def at(self) -> float:
        return self._last + self._limit

    def watch(self, content: aiohttp.StreamReader) -> None:
        self._content = content
        self._handle = self._loop.call_at(self.at, self._check)

    def touch(self) -> None:
        self._last = self._loop.time()
        if self._limit != self._idle:  # the first read: from now on the (usually shorter) idle limit counts
            self._limit = self._idle
            if self._handle is not None:
                self._handle.cancel()
                self._handle = self._loop.call_at(self.at, self._check)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _check(self) -> None:
        if self._loop.time() < self.at:
            self._handle = self._loop.call_at(self.at, self._check)
            return
        self._handle = None
        assert self._content is not None
        # Which setting ran out; `touch` moved `_last` on if anything came (not tracked per read: it is hot).
        setting = "BRIDGE_UPSTREAM_TIMEOUT" if self._last == self._created else "BRIDGE_UPSTREAM_IDLE_TIMEOUT"
        self._content.set_exception(UpstreamTimeout(f"The upstream sent nothing for {self._limit:g} s ({setting})."))


_CHECK_URL = "check REMOTE_OPENAI_BASE_URL, and that the model server is running"


def _transport_error(exc: BaseException, base_url: str, timeouts: Timeouts) -> BridgeError:
    """What failed, and the setting to look at: a newcomer's first failure is usually one of these."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return UpstreamUnreachable(f"Cannot reach the upstream at {base_url}: no connection within "
                                   f"{timeouts.connect:g} s (BRIDGE_UPSTREAM_CONNECT_TIMEOUT); {_CHECK_URL}.")
    if isinstance(exc, aiohttp.ClientConnectorError):
        # The OS's reason ("Name or service not known"); aiohttp's own text repeats the host, and a refusal reads
        # "Connect call failed ('127.0.0.1', 8000)".
        reason = "connection refused" if isinstance(exc.os_error, ConnectionRefusedError) else exc.strerror or exc
        return UpstreamUnreachable(f"Cannot reach the upstream at {base_url}: {reason} ({_CHECK_URL}).")
    if isinstance(exc, TimeoutError):
        return UpstreamTimeout(f"The upstream at {base_url} did not answer within {timeouts.first_byte:g} s "
                               "(BRIDGE_UPSTREAM_TIMEOUT).")
    return UpstreamProtocolError(f"The upstream connection failed: {exc!r}")
