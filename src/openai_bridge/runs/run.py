"""A run: one response being produced by one producer task into its event log."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any, Self

from ..errors import BridgeError, internal_error
from ..wire.responses import Response, ResponseStreamEvent
from .log import EventLog

log = logging.getLogger("openai_bridge")

Producer = Callable[["Run"], Coroutine[Any, Any, Response]]


class BaseRun[E, R]:
    """One answer being produced: `task` runs the producer, whose result `R` is the final answer (or whose
    exception is the reason there is none); `log` holds its stream items (`E`) for the sinks. `opened` is done
    once the upstream accepted the request or refused it (`open_error`). `stopped` is the reason the run was
    told to end early (`stop`). `first_delta_at` (time.perf_counter) and `abandoned` are for the request's log
    line. Subclasses say how an answer ended (`ended`) and what it used (`usage`)."""

    __slots__ = ("model", "streaming", "log", "opened", "open_error", "stopped", "first_delta_at", "abandoned",
                 "task")

    def __init__(self, produce: Callable[[Self], Coroutine[Any, Any, R]], *, model: str, streaming: bool) -> None:
        self.model = model
        self.streaming = streaming
        self.log: EventLog[E] = EventLog()
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.open_error: BridgeError | None = None
        self.stopped: BridgeError | None = None
        self.first_delta_at: float | None = None
        self.abandoned = False  # the client went away before the end
        self.task: asyncio.Task[R] = asyncio.ensure_future(self._produce(produce))

    async def _produce(self, produce: Callable[[Self], Coroutine[Any, Any, R]]) -> R:
        try:
            return await produce(self)
        except asyncio.CancelledError:
            # A stream's producer ends its log with `response.failed` for the reason itself; a non-stream
            # answer has no log to end: the reason is the task's exception, for the caller to answer with.
            if self.stopped is None or self.streaming:
                raise
            raise self.stopped from None

    def accepted(self) -> None:
        if not self.opened.done():
            self.opened.set_result(None)

    def refused(self, error: BridgeError) -> None:
        self.open_error = error
        self.accepted()

    async def wait_opened(self, timeout: float) -> None:
        """Wait up to `timeout` for the upstream to accept the request; raise its refusal if it refused
        meanwhile (so that it can still be an HTTP error status instead of a failed stream)."""
        if not self.opened.done():
            await asyncio.wait((self.opened,), timeout=timeout)
        if self.open_error is not None:
            raise self.open_error

    def stop(self, reason: BridgeError) -> None:
        """End the run now, for `reason`, and properly: a stream's log ends with `response.failed` carrying
        it, a non-stream answer fails with it. Nothing happens to a run that has ended already."""
        if not self.task.done() and self.stopped is None:
            self.stopped = reason
            # Not at once: a task that has not taken its first step would be cancelled before the producer
            # runs at all, and nothing would end the log. Its first step is already scheduled: this comes after.
            asyncio.get_running_loop().call_soon(self._cancel_stopped)

    def _cancel_stopped(self) -> None:
        if not self.task.done():
            self.task.cancel()

    def cancel(self) -> None:
        self.task.cancel()

    def abandon(self) -> None:
        """The client is done with this run, having read it to the end or gone away: the producer stops."""
        if not self.task.done():
            self.abandoned = True
            self.task.cancel()

    def outcome(self) -> str:
        """How the run ended, for the log: `completed`, `incomplete:<reason>`, `failed:<code>`, `client_gone`
        (or `running`)."""
        if self.abandoned:
            return "client_gone"
        if not self.task.done():
            return "running"
        if self.task.cancelled():
            return "client_gone"
        error = self.task.exception()
        if isinstance(error, BridgeError):
            return f"failed:{error.code or error.type}"
        if error is not None:
            return "failed:server_error"
        return self.ended(self.task.result())

    def ended(self, answer: R) -> str:
        """How a run that produced `answer` ended."""
        raise NotImplementedError

    def usage(self) -> tuple[int, int] | None:
        """Tokens in and out, once known."""
        raise NotImplementedError


class Run(BaseRun[ResponseStreamEvent, Response]):
    """A Response being produced (from a chat upstream, or a native one). A background run is `detached`: the
    client is answered at once with that object (or reads the stream as long as it likes), and the run goes on
    without it."""

    __slots__ = ("detached",)

    def __init__(self, produce: Callable[[Run], Coroutine[Any, Any, Response]], *, model: str, streaming: bool,
                 detached: Response | None = None) -> None:
        self.detached = detached
        super().__init__(produce, model=model, streaming=streaming)

    def ending(self, exc: BaseException, request_id: str) -> tuple[str, str]:
        """The code and message a stream broken by `exc` ends with (`response.failed`), logged as it deserves;
        `exc` itself again when it is not the run's to end: the client went away, or the process is exiting."""
        if isinstance(exc, BridgeError):
            log.warning("upstream failed: %s", exc.message)
            return exc.code or exc.type, exc.message
        if isinstance(exc, Exception):  # a bug of ours must still end the stream properly
            log.exception("stream failed unexpectedly")
            return "server_error", internal_error(request_id).message
        if isinstance(exc, asyncio.CancelledError) and self.stopped is not None:
            return self.stopped.code or self.stopped.type, self.stopped.message
        raise exc

    def saw_deltas(self, events: list[ResponseStreamEvent]) -> None:
        """Notes when the first delta (reasoning, text or tool-call arguments) went into the log."""
        if self.first_delta_at is None and any(e["type"].endswith(".delta") for e in events):
            self.first_delta_at = time.perf_counter()

    def ended(self, answer: Response) -> str:
        status = answer["status"]
        if status == "incomplete":
            details = answer.get("incomplete_details")
            return f"incomplete:{details['reason'] if details else '-'}"
        if status == "failed":
            failure = answer.get("error")
            return f"failed:{failure['code'] if failure else '-'}"
        return str(status)

    def usage(self) -> tuple[int, int] | None:
        """Tokens in and out, once the run has a final Response with usage."""
        if not self.task.done() or self.task.cancelled() or self.task.exception() is not None:
            return None
        usage = self.task.result().get("usage")
        return (usage["input_tokens"], usage["output_tokens"]) if usage else None
