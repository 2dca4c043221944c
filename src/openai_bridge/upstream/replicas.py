"""Several upstreams serving the same model, as one `Upstream`; and the retries a busy upstream is owed.

Each request goes to the replica with the fewest requests under way (ties in turn). A replica that cannot be
reached, or answers 5xx before anything was streamed, is left for the next one: nothing reached the client
yet, and nothing was generated twice (a 5xx answer is not a generation; a timeout may be one, and is not
retried). A 429 or 503 (busy, or loading a model) is retried after its `Retry-After` when that is short,
else passed on to the client with it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from ..errors import BridgeError, UpstreamError, UpstreamUnreachable
from ..wire.chat import ChatChunk, ChatCompletion, ChatRequest
from ..wire.models import ModelList
from ..wire.responses import Response, ResponsesRequest
from ..wire.sse import ServerEvent
from .base import NamedEvent, Upstream, UpstreamStream

log = logging.getLogger("openai_bridge")
T = TypeVar("T")

BUSY = (429, 503)
# A busy upstream's Retry-After is waited for when it is at most this long (seconds); longer is the client's.
MAX_WAIT = 2.0
# Rounds over the replicas after the first, while they are busy; the waits between them when no Retry-After.
BUSY_RETRIES = (0.5, 1.0)


def _busy(error: BridgeError) -> bool:
    return isinstance(error, UpstreamError) and error.upstream_status in BUSY


def _retry_after(error: UpstreamError) -> float | None:
    """Seconds to wait before trying a busy upstream again; None when that is not ours to wait."""
    if error.retry_after is None:
        return 0.0
    try:
        seconds = float(error.retry_after)
    except ValueError:  # an HTTP date: a long wait, as a rule
        return None
    return seconds if 0 <= seconds <= MAX_WAIT else None


class Replicas:
    """`members`: (name, upstream) pairs serving the same models. With one member, only the busy retries."""

    def __init__(self, members: list[tuple[str, Upstream]], *, under_way: list[int] | None = None) -> None:
        self.members = members
        self.under_way = under_way if under_way is not None else [0] * len(members)  # shared with `with_key` copies
        self._next = 0

    # ---- the seam

    async def chat(self, request: ChatRequest) -> ChatCompletion:
        return await self._call(lambda up: up.chat(request))

    async def chat_stream(self, request: ChatRequest) -> UpstreamStream[ChatChunk]:
        return await self._open(lambda up: up.chat_stream(request))

    async def chat_stream_raw(self, request: ChatRequest) -> UpstreamStream[ServerEvent]:
        return await self._open(lambda up: up.chat_stream_raw(request))

    async def responses(self, request: ResponsesRequest) -> Response:
        return await self._call(lambda up: up.responses(request))

    async def responses_stream(self, request: ResponsesRequest) -> UpstreamStream[NamedEvent]:
        return await self._open(lambda up: up.responses_stream(request))

    async def models(self) -> ModelList:
        return await self._call(lambda up: up.models())

    def with_key(self, key: str) -> Replicas:
        return Replicas([(name, up.with_key(key)) for name, up in self.members], under_way=self.under_way)

    async def aclose(self) -> None:
        """The members are the router's to close (they also serve on their own)."""

    # ---- the choice, and the retries

    async def _call(self, send: Callable[[Upstream], Awaitable[T]]) -> T:
        single = len(self.members) == 1
        index, result = await self._attempts(send, single=single)
        if not single:
            self.under_way[index] -= 1
        return result

    async def _open(self, send: Callable[[Upstream], Awaitable[UpstreamStream[T]]]) -> UpstreamStream[T]:
        if len(self.members) == 1:
            return (await self._attempts(send, single=True))[1]
        index, stream = await self._attempts(send, single=False)
        return _Counted(stream, self.under_way, index)  # under way until the stream is closed

    async def _attempts(self, send: Callable[[Upstream], Awaitable[T]], *, single: bool) -> tuple[int, T]:
        """Send to one member after another (the least busy first) until one answers. When every member of a
        round was busy, wait (its Retry-After, if short; else the next of BUSY_RETRIES) and go round again.
        Returns the member's index, counted as under way (unless `single`), and its answer."""
        for backoff in (*BUSY_RETRIES, None):
            order = self._order() if not single else [0]
            all_busy = True
            for position, index in enumerate(order):
                name, upstream = self.members[index]
                if not single:
                    self.under_way[index] += 1
                try:
                    return index, await send(upstream)
                except BaseException as exc:
                    if not single:
                        self.under_way[index] -= 1
                    if not isinstance(exc, BridgeError) or not self._worth_another(exc):
                        raise
                    last = exc
                all_busy = all_busy and _busy(last)
                if position + 1 < len(order):
                    log.warning("upstream %s failed before answering (%s); trying another replica", name, last.message)
            if not all_busy or backoff is None or not isinstance(last, UpstreamError):
                raise last
            wait = _retry_after(last)
            if wait is None:  # a long Retry-After: the client's to wait, not ours
                raise last
            await asyncio.sleep(wait if last.retry_after is not None else backoff)
        raise AssertionError("unreachable")

    def _worth_another(self, exc: BridgeError) -> bool:
        if _busy(exc):
            return True  # busy: another replica, or the same one after a wait
        if len(self.members) == 1:
            return False
        if isinstance(exc, UpstreamUnreachable):
            return True
        return isinstance(exc, UpstreamError) and exc.upstream_status is not None and exc.upstream_status >= 500 \
            and exc.upstream_status != 501  # 501: this server does not do that; neither will its replicas

    def _order(self) -> list[int]:
        """Member indexes, the fewest requests under way first; ties in turn, starting after the last choice."""
        n = len(self.members)
        start = self._next
        self._next = (self._next + 1) % n
        return sorted(range(n), key=lambda i: (self.under_way[i], (i - start) % n))


class _Counted[T]:
    """A replica's stream, counted as under way until it is closed."""

    def __init__(self, stream: UpstreamStream[T], under_way: list[int], index: int) -> None:
        self._stream = stream
        self._under_way = under_way
        self._index = index
        self._open = True

    @property
    def done(self) -> bool:
        return self._stream.done

    def __aiter__(self) -> AsyncIterator[list[T]]:
        return self._stream.__aiter__()

    async def aclose(self) -> None:
        if self._open:
            self._open = False
            self._under_way[self._index] -= 1
        await self._stream.aclose()
