"""Orchestration: translate down -> call the upstream -> translate up.

The server hands a parsed request body here and gets back a Response object, or an async iterator
of Responses events (with `None` standing for "nothing happened for a while: send a keepalive").
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from .config import Config
from .errors import BridgeError, UpstreamProtocolError, UpstreamTimeout
from .ids import now, random_id
from .store.items import ItemCache
from .translate import Down, StreamTranslator, to_chat_request, to_response
from .upstream.http import ChatStream, ChatUpstream
from .vault import ReasoningVault, load_secret

log = logging.getLogger("openai_bridge")
JSON = dict[str, Any]


class Bridge:
    def __init__(
        self,
        config: Config,
        upstream: ChatUpstream,
        *,
        new_id: Callable[[str], str] = random_id,
        clock: Callable[[], int] = now,
    ) -> None:
        self.config = config
        self.upstream = upstream
        self.new_id = new_id
        self.clock = clock
        self.vault = ReasoningVault(load_secret(config.reasoning_key, config.state_dir))
        self.items = ItemCache()

    def down(self, request: JSON, request_id: str = "-") -> Down:
        request = self.items.resolve(request)
        down = to_chat_request(request, default_model=self.config.default_model, options=self.config.translate,
                               unseal=self.vault.open)
        for dropped in down.dropped:
            log.warning("request %s: dropped %s (%s)", request_id, dropped.param, dropped.reason)
        return down

    async def create(self, request: JSON, down: Down) -> JSON:
        completion = await self.upstream.complete(down.chat)
        response = to_response(completion, request=request, model=down.chat["model"], new_id=self.new_id,
                               clock=self.clock, options=self.config.translate, seal=self.vault.seal)
        self._remember(request, response)
        return response

    def _remember(self, request: JSON, response: JSON) -> None:
        if request.get("store") is not False:
            self.items.put(response["output"])

    async def open_stream(self, down: Down) -> _Opening:
        """Start the upstream request. Waits for its headers up to the keepalive interval, so that
        an immediate upstream refusal (bad model, 4xx) can still be an HTTP error status; past that the
        stream starts anyway and a later failure ends it with `response.failed`."""
        task = asyncio.ensure_future(self.upstream.open_stream(down.chat))
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=self.config.keepalive)
        except TimeoutError:
            pass
        except BaseException:
            if not task.done():
                task.cancel()
            raise
        return _Opening(task)

    async def events(self, request: JSON, down: Down, opening: _Opening) -> AsyncIterator[JSON | None]:
        """Responses events for a streaming request; `None` where a keepalive is due."""
        machine = StreamTranslator(request, model=down.chat["model"], new_id=self.new_id, clock=self.clock,
                                   options=self.config.translate, seal=self.vault.seal)
        for event in machine.start():
            yield event
        stream: ChatStream | None = None
        keepalive = self.config.keepalive
        t = self.config.timeouts
        try:
            async for _ in _waiting(opening.task, keepalive, t.first_byte):
                yield None
            stream = opening.task.result()
            chunks = stream.chunks().__aiter__()
            limit = t.first_byte
            while True:
                nxt = asyncio.ensure_future(chunks.__anext__())
                async for _ in _waiting(nxt, keepalive, limit):
                    yield None
                try:
                    chunk = nxt.result()
                except StopAsyncIteration:
                    break
                limit = t.idle
                for event in machine.feed(chunk):
                    yield event
            if not stream.finished and machine.finish_reason is None:
                raise UpstreamProtocolError("The upstream stream ended before the answer was finished.")
            closing = machine.finish()
            self._remember(request, machine.response)  # before the client can see completed and refer back
            for event in closing:
                yield event
        except BridgeError as exc:
            log.warning("stream failed: %s", exc.message)
            for event in machine.fail(exc.code or exc.type, exc.message):
                yield event
        except Exception as exc:  # a bug of ours must still end the stream properly
            log.exception("stream failed unexpectedly")
            for event in machine.fail("server_error", f"Internal error in the bridge: {type(exc).__name__}: {exc}"):
                yield event
        finally:
            if stream is not None:
                await stream.aclose()
            elif not opening.task.done():
                opening.task.cancel()
            elif not opening.task.cancelled() and opening.task.exception() is None:
                await opening.task.result().aclose()


class _Opening:
    """An upstream stream request under way (its headers may or may not be in yet)."""

    __slots__ = ("task",)

    def __init__(self, task: asyncio.Future[ChatStream]) -> None:
        self.task = task

    def ready_error(self) -> BaseException | None:
        """The upstream's refusal, if it already answered with one."""
        if self.task.done() and not self.task.cancelled():
            return self.task.exception()
        return None


async def _waiting(fut: asyncio.Future[Any], keepalive: float, limit: float) -> AsyncIterator[None]:
    """Wait for `fut`, yielding once per `keepalive` seconds of silence; after `limit` seconds,
    cancel it and raise `UpstreamTimeout`. Cancels `fut` when the waiter itself is cancelled."""
    started = time.monotonic()
    try:
        while True:
            remaining = limit - (time.monotonic() - started)
            if remaining <= 0:
                raise UpstreamTimeout(f"The upstream sent nothing for {limit:g} s.")
            done, _ = await asyncio.wait((fut,), timeout=min(keepalive, remaining))
            if done:
                return
            if time.monotonic() - started < limit:
                yield None
    finally:
        if not fut.done():
            fut.cancel()
