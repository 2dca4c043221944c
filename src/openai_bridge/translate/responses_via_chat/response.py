"""Up: a non-stream chat completion -> a Response object. Pure.

The completion's message is fed to the stream machine as one chunk, so streaming and non-streaming
share every mapping decision and produce the same final object.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

from ...errors import UpstreamProtocolError
from ...wire.chat import ChatChunk, ChatChunkChoice, ChatCompletion, ChatDelta, ChatToolCallDelta
from ...wire.responses import Response
from .options import Options
from .stream import Clock, NewId, StreamTranslator

# The message fields the stream machine reads, besides `tool_calls`.
_DELTA_FIELDS: tuple[Literal["role", "content", "refusal", "reasoning_content", "reasoning"], ...] = (
    "role", "content", "refusal", "reasoning_content", "reasoning",
)
_CALL_FIELDS: tuple[Literal["id", "type", "function"], ...] = ("id", "type", "function")


def completion_to_chunk(completion: ChatCompletion) -> ChatChunk:
    """The one chat chunk that carries the same answer as a non-stream completion.

    The completion is the upstream's and not trusted to have its type: values are copied as they are,
    and the stream machine checks each one it reads.
    """
    choices = completion.get("choices")
    if not isinstance(choices, list):
        raise UpstreamProtocolError("The upstream answer has no 'choices': it is not a chat completion.")
    chunk_choices: list[ChatChunkChoice] = []
    for choice in choices:
        if not isinstance(choice, dict):
            continue
        chunk_choices.append({
            "index": choice.get("index", 0),
            "delta": _delta(choice.get("message")),
            "finish_reason": choice.get("finish_reason"),
            "logprobs": choice.get("logprobs"),
        })
    return {"choices": chunk_choices, "usage": completion.get("usage")}


def _delta(message: object) -> ChatDelta:
    delta: ChatDelta = {}
    if not isinstance(message, dict):
        return delta
    for key in _DELTA_FIELDS:
        if key in message:
            delta[key] = message[key]
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        deltas: list[ChatToolCallDelta] = []
        for i, call in enumerate(calls):
            if isinstance(call, dict):
                call_delta: ChatToolCallDelta = {"index": i}  # a message's calls have no index: their order is it
                for name in _CALL_FIELDS:
                    if name in call:
                        call_delta[name] = call[name]
                deltas.append(call_delta)
        delta["tool_calls"] = deltas
    return delta


def to_response(
    completion: ChatCompletion,
    *,
    request: Mapping[str, object],
    model: str,
    new_id: NewId,
    clock: Clock,
    options: Options | None = None,
    seal: Callable[[str], str] | None = None,
    store: bool = False,
) -> Response:
    """Translate a chat completion into the Response object for `request`; `store` is the effective value
    the caller decided, echoed."""
    machine = StreamTranslator(request, model=model, new_id=new_id, clock=clock, options=options, seal=seal,
                               store=store)
    machine.feed(completion_to_chunk(completion))
    machine.finish()
    return machine.response
