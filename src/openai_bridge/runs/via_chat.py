"""Producers of a Responses answer from a chat upstream: the chat request goes up, its answer comes back
through the stream machine into the run's event log."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from ..errors import BridgeError, ResponseCancelled, UpstreamProtocolError
from ..translate import StreamTranslator, completion_to_chunk
from ..upstream.base import Upstream
from ..wire.chat import ChatRequest
from ..wire.responses import Response, ResponseStreamEvent
from .run import Run

log = logging.getLogger("openai_bridge")
# Awaited with the final object before its terminal event goes out: what it stores is there before the client
# can see the response completed (and refer back to it). Should it fail, the response fails instead.
Finished = Callable[[Response], Awaitable[None]]
_NO_ANSWER = "The upstream's answer carried no choice: no text, no tool call, no finish_reason."


async def stream_via_chat(run: Run, *, machine: StreamTranslator, upstream: Upstream, chat: ChatRequest,
                          finished: Finished, request_id: str) -> Response:
    """Stream: every upstream read becomes one batch of events; any failure ends the log with
    `response.failed`, never with a cut."""
    events = run.log
    events.extend(machine.start())
    stream = None
    try:
        try:
            stream = await upstream.chat_stream(chat)
        except BridgeError as exc:
            run.refused(exc)
            raise
        run.accepted()
        async for chunks in stream:
            batch: list[ResponseStreamEvent] = []
            try:
                for chunk in chunks:
                    batch += machine.feed(chunk)
            finally:  # what this read translated goes out even when a later chunk in it is broken
                events.extend(batch)
                if run.first_delta_at is None:
                    run.saw_deltas(batch)
        if not stream.done and machine.finish_reason is None:
            raise UpstreamProtocolError("The upstream stream ended before the answer was finished.")
        if not machine.answered:
            raise UpstreamProtocolError(_NO_ANSWER)
        events.extend(machine.settle())
        await finished(machine.response)
        events.extend(machine.terminal())
    except BaseException as exc:  # any failure ends the stream with response.failed, but a client gone
        events.extend(machine.fail(*run.ending(exc, request_id), cancelled=isinstance(run.stopped, ResponseCancelled)))
    finally:
        run.accepted()
        try:
            if stream is not None:
                await stream.aclose()
        finally:
            events.close()
    return machine.response


async def answer_via_chat(run: Run, *, machine: StreamTranslator, upstream: Upstream, chat: ChatRequest,
                          finished: Finished, request_id: str) -> Response:
    """Non-stream: one chat completion, translated by the same machine as a stream of one chunk. Failures
    propagate, so that the client gets them as an HTTP error status."""
    try:
        completion = await upstream.chat(chat)
        run.accepted()
        events = machine.start()
        events += machine.feed(completion_to_chunk(completion))
        if not machine.answered:
            raise UpstreamProtocolError(_NO_ANSWER)
        events += machine.finish()
        await finished(machine.response)
        run.log.extend(events)
    finally:
        run.log.close()
    return machine.response
