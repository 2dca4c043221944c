"""Producers of a chat completion: passed through to a chat upstream as it is, or translated to a Responses
upstream and back (`translate.chat_via_responses`). A stream's log holds ready SSE frames.

In `auto` mode the chat upstream is tried first; an upstream without /chat/completions (a 404 or 405 of
the route itself) gets the request translated to its /responses instead, and the caller learns that.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from ..errors import BridgeError, UpstreamError, UpstreamProtocolError, internal_error
from ..ids import now, random_id
from ..translate import ChatStreamTranslator, to_chat_completion
from ..upstream.base import NamedEvent, Upstream, UpstreamStream
from ..wire.chat import ChatRequest
from ..wire.responses import ResponsesRequest
from ..wire.sse import DONE_FRAME, ServerEvent, data_frame
from .run import BaseRun

log = logging.getLogger("openai_bridge")

# The non-stream answer (a chat completion as a JSON object), or None for a stream.
Answer = dict[str, object] | None
ChatProducer = Callable[["ChatRun"], Coroutine[Any, Any, Answer]]
_DELTA_FIELDS = ("content", "reasoning_content", "reasoning", "refusal", "tool_calls")
_COMPLETED = frozenset({"stop", "tool_calls", "function_call"})


class ChatRun(BaseRun[bytes, Answer]):
    """A `runs.run.BaseRun` for a chat completion: the task's result is the non-stream answer; `log` holds a
    stream's SSE frames. What the request's log line says is noted as it goes: `finish_reason`, `tokens`,
    `failure` (the code of an error written into the stream), `first_delta_at`."""

    __slots__ = ("finish_reason", "tokens", "failure")

    def __init__(self, produce: ChatProducer, *, model: str, streaming: bool) -> None:
        self.finish_reason: str | None = None
        self.tokens: tuple[int, int] | None = None
        self.failure: str | None = None
        super().__init__(produce, model=model, streaming=streaming)

    def ended(self, answer: Answer) -> str:
        """`completed`, `incomplete:<finish_reason>` (`length`, `content_filter`) or `failed:<code>`."""
        if self.failure is not None:
            return f"failed:{self.failure}"
        if self.finish_reason is None or self.finish_reason in _COMPLETED:
            return "completed"
        return f"incomplete:{self.finish_reason}"

    def usage(self) -> tuple[int, int] | None:
        return self.tokens

    def note(self, chunk: Mapping[str, object]) -> None:
        """What a chunk (or a whole completion) tells the log line."""
        if "error" in chunk and "choices" not in chunk:
            error = chunk["error"]
            code = error.get("code") if isinstance(error, dict) else None
            self.failure = code if isinstance(code, str) and code else "upstream_error"
            return
        choices = chunk.get("choices")
        if isinstance(choices, list):
            for choice in choices:
                if not isinstance(choice, dict):
                    continue
                reason = choice.get("finish_reason")
                if isinstance(reason, str):
                    self.finish_reason = reason
                if self.first_delta_at is None:
                    delta = choice.get("delta")
                    if isinstance(delta, dict) and any(delta.get(f) for f in _DELTA_FIELDS):
                        self.first_delta_at = time.perf_counter()
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            tokens_in, tokens_out = usage.get("prompt_tokens"), usage.get("completion_tokens")
            if isinstance(tokens_in, int) and isinstance(tokens_out, int):
                self.tokens = (tokens_in, tokens_out)


@dataclass(slots=True)
class ViaResponses:
    """The request translated for a Responses upstream, and how to translate its answer back."""

    request: ResponsesRequest
    model: str  # the client's name for the model, which the completion echoes
    include_usage: bool = False
    new_id: Callable[[str], str] = random_id
    clock: Callable[[], int] = now


@dataclass(slots=True)
class ChatPlan:
    """How to answer: `chat` (the client's body, model set) goes to the chat upstream unless it is None;
    `translate()` gives the Responses request, for a translated answer or, after the chat route turned
    out missing, the fallback (which `no_chat_route()` is told about once the upstream took it)."""

    upstream: Upstream
    chat: ChatRequest | None
    translate: Callable[[], ViaResponses]
    no_chat_route: Callable[[], None]
    request_id: str = "-"


def missing_route(error: BridgeError) -> bool:
    """The upstream has no /chat/completions (a Responses-only server): its 404 or 405 was about the route,
    not about a model (which would stay the upstream's 404)."""
    return (isinstance(error, UpstreamError) and error.upstream_status in (404, 405)
            and error.code == "upstream_not_found")


async def answer_chat(run: ChatRun, plan: ChatPlan) -> Answer:
    """Non-stream: the upstream's completion as it is, or the Responses answer translated. Failures propagate
    (an HTTP error status)."""
    if plan.chat is not None:
        try:
            completion = await plan.upstream.chat(plan.chat)
        except BridgeError as exc:
            if not missing_route(exc):
                raise
        else:
            run.accepted()
            answer = dict(completion)
            run.note(answer)
            return answer
    via = plan.translate()
    response = await plan.upstream.responses(via.request)
    run.accepted()
    if plan.chat is not None:
        plan.no_chat_route()
    translated = dict(to_chat_completion(response, model=via.model, new_id=via.new_id, clock=via.clock))
    run.note(translated)
    return translated


async def stream_chat(run: ChatRun, plan: ChatPlan) -> Answer:
    """Stream: every upstream read becomes one batch of frames. A failure once the stream is under way is
    written into it as OpenAI does (`data: {"error": ...}`), then `data: [DONE]`; never a silent cut."""
    frames = run.log
    raw: UpstreamStream[ServerEvent] | None = None
    events: UpstreamStream[NamedEvent] | None = None
    try:
        try:
            if plan.chat is not None:
                try:
                    raw = await plan.upstream.chat_stream_raw(plan.chat)
                except BridgeError as exc:
                    if not missing_route(exc):
                        raise
            via = None
            if raw is None:
                via = plan.translate()
                events = await plan.upstream.responses_stream(via.request)
                if plan.chat is not None:
                    plan.no_chat_route()
        except BridgeError as exc:
            run.refused(exc)
            raise
        run.accepted()
        if raw is not None:
            await _pass_through(run, raw)
        else:
            assert events is not None and via is not None
            await _translate(run, events, via)
    except BridgeError as exc:
        log.warning("upstream failed: %s", exc.message)
        _fail(run, exc)
    except Exception:  # a bug of ours must still end the stream properly
        log.exception("stream failed unexpectedly")
        _fail(run, internal_error(plan.request_id), "server_error")
    except asyncio.CancelledError:
        if run.stopped is None:  # the client went away
            raise
        _fail(run, run.stopped)
    finally:
        run.accepted()
        try:
            for stream in (raw, events):
                if stream is not None:
                    await stream.aclose()
        finally:
            frames.close()
    return None


async def _pass_through(run: ChatRun, stream: UpstreamStream[ServerEvent]) -> None:
    """Each event goes out with its data as the upstream sent it; `[DONE]` only if the upstream sent it."""
    frames = run.log
    async for batch in stream:
        out: list[bytes] = []
        for name, data in batch:
            out.append(_frame(name, data))
            try:
                chunk = orjson.loads(data)
            except orjson.JSONDecodeError:
                continue  # not ours to judge: it goes to the client as it came
            if isinstance(chunk, dict):
                run.note(chunk)
        frames.extend(out)
    if stream.done:
        frames.extend([DONE_FRAME])
    elif run.finish_reason is None and run.failure is None:
        raise UpstreamProtocolError("The upstream stream ended before the answer was finished.")


async def _translate(run: ChatRun, stream: UpstreamStream[NamedEvent], via: ViaResponses) -> None:
    machine = ChatStreamTranslator(model=via.model, new_id=via.new_id, clock=via.clock,
                                   include_usage=via.include_usage)
    frames = run.log
    async for batch in stream:
        out: list[bytes] = []
        try:
            for _, event in batch:
                for chunk in machine.feed(event):
                    out.append(data_frame(chunk))
                    run.note(chunk)
                if event.get("type") in ("response.completed", "response.incomplete"):
                    _note_usage(run, event)
        finally:  # what this read translated goes out even when a later event in it fails
            frames.extend(out)
    frames.extend([data_frame(chunk) for chunk in machine.finish()])
    frames.extend([DONE_FRAME])


def _note_usage(run: ChatRun, event: Mapping[str, object]) -> None:
    """Tokens for the log line from the terminal Response, whether or not the client asked for a usage chunk."""
    response = event.get("response")
    usage = response.get("usage") if isinstance(response, dict) else None
    if isinstance(usage, dict):
        tokens_in, tokens_out = usage.get("input_tokens"), usage.get("output_tokens")
        if isinstance(tokens_in, int) and isinstance(tokens_out, int):
            run.tokens = (tokens_in, tokens_out)


def _fail(run: ChatRun, error: BridgeError, code: str | None = None) -> None:
    run.failure = code or error.code or error.type
    if not run.log.closed:
        run.log.extend([data_frame(error.body()), DONE_FRAME])


def _frame(name: str | None, data: bytes) -> bytes:
    """One SSE event again: its name if it had one, its data line by line (a data field may span lines)."""
    head = b"event: " + name.encode() + b"\n" if name else b""
    if b"\n" not in data:
        return head + b"data: " + data + b"\n\n"
    return head + b"".join(b"data: " + line + b"\n" for line in data.split(b"\n")) + b"\n"
