"""The upstream seam: what the rest of the bridge may ask of a model server.

The service depends on this Protocol only. `http.HTTPUpstream` implements it over aiohttp;
`openai_bridge.testing.FakeUpstream` implements it in-process, for tests without sockets. An
implementation owns its timeouts and its wire format: it hands over parsed objects, never bytes, and
turns every failure into a `BridgeError` (see `errors.py`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, TypeVar

from ..wire.chat import ChatChunk, ChatCompletion, ChatRequest
from ..wire.models import ModelList
from ..wire.responses import Response, ResponsesRequest, ResponseStreamEvent
from ..wire.sse import ServerEvent

T = TypeVar("T")

# One event of a native Responses stream: its SSE `event:` name (None when the upstream sent none)
# and its parsed data.
NamedEvent = tuple[str | None, ResponseStreamEvent]


class UpstreamStream(Protocol[T]):
    """One streamed upstream answer. Iterate it for batches (what one network read brought, in order);
    iteration ends when the upstream ends the stream, and raises a `BridgeError` when it fails (the
    batch before the failure is handed over first). Always `aclose()` it."""

    @property
    def done(self) -> bool:
        """True once the upstream said it finished (`data: [DONE]`), as opposed to merely stopping."""
        ...

    def __aiter__(self) -> AsyncIterator[list[T]]: ...

    async def aclose(self) -> None: ...


class Upstream(Protocol):
    async def chat(self, request: ChatRequest) -> ChatCompletion:
        """A non-stream chat completion."""
        ...

    async def chat_stream(self, request: ChatRequest) -> UpstreamStream[ChatChunk]:
        """A streamed chat completion; returns once the upstream accepted the request (or raises)."""
        ...

    async def chat_stream_raw(self, request: ChatRequest) -> UpstreamStream[ServerEvent]:
        """A streamed chat completion as the upstream sent it, for a transparent pass-through: each SSE event
        as `(event name, data bytes)`, not parsed (re-framing parsed chunks could change them: number
        formats, escapes). `[DONE]` ends it (`done`) and is not handed over."""
        ...

    async def responses(self, request: ResponsesRequest) -> Response:
        """A non-stream Response from an upstream that serves the Responses API itself."""
        ...

    async def responses_stream(self, request: ResponsesRequest) -> UpstreamStream[NamedEvent]:
        """A streamed Response, event by event with the SSE event names kept."""
        ...

    async def models(self) -> ModelList: ...

    def with_key(self, key: str) -> Upstream:
        """This upstream, authenticating with `key` instead of its own (a client's key, forwarded)."""
        ...

    async def aclose(self) -> None: ...
