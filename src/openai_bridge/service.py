"""Orchestration: translate down -> call the upstream -> translate up.

The server hands a parsed request body here and gets back a Response object, or hands over a `write`
for the SSE bytes of a streaming response.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from .config import Config
from .errors import BridgeError, UpstreamProtocolError, UpstreamTimeout
from .ids import now, random_id
from .store.items import ItemCache
from .translate import Down, StreamTranslator, to_chat_request, to_response
from .upstream.http import ChatStream, ChatUpstream, parse_event
from .vault import ReasoningVault, load_secret
from .wire.sse import KEEPALIVE, SSEDecoder, frame

log = logging.getLogger("openai_bridge")
JSON = dict[str, Any]
# An upstream stream request under way: its headers may or may not be in yet.
Opening = asyncio.Future[ChatStream]


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

    async def open_stream(self, down: Down) -> Opening:
        """Start the upstream request. Waits for its headers up to the keepalive interval, so that
        an immediate upstream refusal (bad model, 4xx) can still be an HTTP error status; past that the
        stream starts anyway and a later failure ends it with `response.failed`."""
        task = asyncio.ensure_future(self.upstream.open_stream(down.chat))
        try:
            await asyncio.wait((task,), timeout=self.config.keepalive)
        except BaseException:
            task.cancel()
            raise
        if task.done() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
        return task

    async def stream(self, request: JSON, down: Down, opening: Opening, write: Write) -> None:
        """Run one streaming response: every Responses event goes to `write` as SSE bytes, the events of
        one upstream read in one write, with keepalives while the upstream is silent."""
        await _StreamRun(self, request, down, opening, write).run()



Write = Callable[[bytes], Awaitable[None]]


class _StreamRun:
    """One stream: a pump (this task) reading the upstream and writing frames, and a watchdog that
    writes keepalives and, past the upstream timeouts, cancels the pump so that it ends the stream with
    `response.failed`. No task or timer per chunk: the hot loop is read -> translate -> one write."""

    def __init__(self, bridge: Bridge, request: JSON, down: Down, opening: Opening, write: Write) -> None:
        self.bridge = bridge
        self.request = request
        self.opening = opening
        self.write = write
        self.machine = StreamTranslator(request, model=down.chat["model"], new_id=bridge.new_id,
                                        clock=bridge.clock, options=bridge.config.translate,
                                        seal=bridge.vault.seal)
        self.loop = asyncio.get_running_loop()
        self.last_write = self.last_read = self.loop.time()
        self.limit = bridge.config.timeouts.first_byte
        self.timed_out: float | None = None

    async def send(self, events: list[JSON]) -> None:
        if events:
            self.last_write = self.loop.time()
            await self.write(b"".join([frame(e) for e in events]))

    async def run(self) -> None:
        pump = asyncio.current_task()
        assert pump is not None
        watchdog = asyncio.ensure_future(self.watch(pump))
        stream: ChatStream | None = None
        machine = self.machine
        try:
            try:
                await self.send(machine.start())
                stream = await self.opening
                done = await self.pump(stream)
                if not done and machine.finish_reason is None:
                    raise UpstreamProtocolError("The upstream stream ended before the answer was finished.")
                closing = machine.finish()
                self.bridge._remember(self.request, machine.response)  # before the client can refer back
                await self.send(closing)
            except asyncio.CancelledError:
                if self.timed_out is None:
                    raise  # the client went away
                pump.uncancel()
                raise UpstreamTimeout(f"The upstream sent nothing for {self.timed_out:g} s.") from None
        except BridgeError as exc:
            log.warning("stream failed: %s", exc.message)
            await self.send(machine.fail(exc.code or exc.type, exc.message))
        except Exception as exc:  # a bug of ours must still end the stream properly
            log.exception("stream failed unexpectedly")
            await self.send(machine.fail("server_error", f"Internal error in the bridge: {type(exc).__name__}: {exc}"))
        finally:
            watchdog.cancel()
            if stream is not None:
                await stream.aclose(finished=machine.done and machine.response["status"] != "failed")
            elif not self.opening.done():
                self.opening.cancel()
            elif not self.opening.cancelled() and self.opening.exception() is None:
                await self.opening.result().aclose()

    async def pump(self, stream: ChatStream) -> bool:
        """Translate the upstream's reads; True when it said `[DONE]`."""
        decoder = SSEDecoder()
        machine = self.machine
        self.last_read = self.loop.time()
        self.limit = self.bridge.config.timeouts.first_byte
        async for raw in stream.reads():
            self.last_read = self.loop.time()
            self.limit = self.bridge.config.timeouts.idle
            events: list[JSON] = []
            try:
                for data in decoder.feed(raw):
                    chunk = parse_event(data)
                    if chunk is None:
                        return True
                    events += machine.feed(chunk)
            finally:
                # What this read translated goes out even when a later event in it is broken.
                await self.send(events)
        for data in decoder.close():
            chunk = parse_event(data)
            if chunk is None:
                return True
            await self.send(machine.feed(chunk))
        return False

    async def watch(self, pump: asyncio.Task[Any]) -> None:
        keepalive = self.bridge.config.keepalive
        while True:
            now = self.loop.time()
            deadline = self.last_read + self.limit
            if now >= deadline:
                self.timed_out = self.limit
                pump.cancel()
                return
            if now - self.last_write >= keepalive:
                self.last_write = now
                await self.write(KEEPALIVE)
                continue
            await asyncio.sleep(min(self.last_write + keepalive, deadline) - now)
