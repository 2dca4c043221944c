"""Producers of a Responses answer from an upstream that serves the Responses API itself: the client's request
goes up as it came (only its `model` set to the upstream's name for it), and the answer comes back through the
repair machine, which leaves a well-formed one as it is and mends a defective one.

In `auto` mode, while the bridge does not know yet whether the upstream serves `/responses`, a producer may be
told it can hand over (`may_fall_back`): when the upstream answers that it has no such endpoint, the producer
raises `NotNative` having logged nothing, and the caller sends the same request through chat on the same run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from ..errors import BridgeError
from ..translate import StreamRepair
from ..upstream.base import Upstream
from ..upstream.detect import unsupported
from ..upstream.errors import error_from_body
from ..wire.responses import Response, ResponsesRequest, ResponseStreamEvent
from .run import Run

log = logging.getLogger("openai_bridge")
# Tells the bridge what this answer showed about the upstream: (serves /responses well, why).
Learn = Callable[[bool, str], None]
# The repair of a non-stream answer: (the upstream's Response, a list that gets its defects) -> the Response.
Repair = Callable[[Mapping[str, object], list[str]], Response]


class NotNative(Exception):
    """The upstream said it does not serve `/responses` (`error`), before anything was generated or logged."""

    def __init__(self, error: BridgeError) -> None:
        super().__init__(error.message)
        self.error = error


def defective(defects: list[str]) -> str:
    return (f"its /responses answer is defective ({', '.join(defects)}): repaired this one; later requests go "
            "through chat")


async def stream_native(run: Run, *, machine: StreamRepair, upstream: Upstream, request: ResponsesRequest,
                        request_id: str, learn: Learn | None = None,
                        may_fall_back: bool = False) -> Response:
    """Stream: the upstream's events, repaired, as they arrive; any failure after the stream opened ends the
    log with `response.failed` (from the repair machine, so that it carries what arrived), never with a cut."""
    events = run.log
    stream = None
    handed_over = False
    try:
        try:
            stream = await upstream.responses_stream(request)
        except BridgeError as exc:
            if may_fall_back and unsupported(exc):
                handed_over = True
                raise NotNative(exc) from None
            run.refused(exc)
            raise
        run.accepted()
        async for batch in stream:
            out: list[ResponseStreamEvent] = []
            try:
                for name, data in batch:
                    out += machine.feed(name, data)
                    if machine.done:
                        break
            finally:  # what this read brought goes out even when a later event in it is broken
                events.extend(out)
                if run.first_delta_at is None:
                    run.saw_deltas(out)
            if machine.done:
                break
        if not machine.done:  # the stream stopped without a terminal event
            events.extend(machine.finish())
        elif learn is not None:
            if machine.repaired:
                learn(False, defective(machine.defects))
            else:
                learn(True, "its /responses stream is well formed")
    except NotNative:
        raise
    except BaseException as exc:  # any failure ends the stream with response.failed, but a client gone
        events.extend(machine.fail(*run.ending(exc, request_id)))
    finally:
        if not handed_over:
            run.accepted()
            _log_dropped(machine.dropped)
            try:
                if stream is not None:
                    await stream.aclose()
            finally:
                events.close()
    assert machine.response is not None
    return machine.response


async def answer_native(run: Run, *, repair: Repair, upstream: Upstream, request: ResponsesRequest,
                        learn: Learn | None = None, may_fall_back: bool = False) -> Response:
    """Non-stream: the upstream's Response, repaired. Failures propagate, so that the client gets them as an HTTP
    error status (the upstream's own status for its 4xx)."""
    handed_over = False
    try:
        try:
            body = await upstream.responses(request)
        except BridgeError as exc:
            if may_fall_back and unsupported(exc):
                handed_over = True
                raise NotNative(exc) from None
            raise
        run.accepted()
        raw: Mapping[str, object] = body
        if "error" in raw and "output" not in raw:  # an error object in a 200 body
            raise error_from_body(502, dict(raw))
        defects: list[str] = []
        response = repair(raw, defects)
        if learn is not None:
            learn(not defects, defective(defects) if defects else "its /responses answer is well formed")
    finally:
        if not handed_over:
            run.log.close()
    return response


def _log_dropped(dropped: list[str]) -> None:
    if dropped:
        log.warning("the upstream's Responses stream had events the bridge could not place, left out: %s",
                    ", ".join(dropped))

