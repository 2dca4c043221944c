"""Up: a non-stream chat completion -> a Response object. Pure.

The completion's message is fed to the stream machine as one chunk, so streaming and non-streaming
share every mapping decision and produce the same final object.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...errors import UpstreamProtocolError
from .options import Options
from .stream import Clock, NewId, StreamTranslator

JSON = dict[str, Any]


def completion_to_chunk(completion: JSON) -> JSON:
    """The one chat chunk that carries the same answer as a non-stream completion."""
    choices = completion.get("choices")
    if not isinstance(choices, list):
        raise UpstreamProtocolError("The upstream answer has no 'choices': it is not a chat completion.")
    chunk_choices = []
    for choice in choices:
        if not isinstance(choice, dict):
            continue
        message = choice.get("message")
        delta: JSON = dict(message) if isinstance(message, dict) else {}
        calls = delta.get("tool_calls")
        if isinstance(calls, list):
            delta["tool_calls"] = [
                {**call, "index": i} if isinstance(call, dict) else call for i, call in enumerate(calls)
            ]
        chunk_choices.append({
            "index": choice.get("index", 0),
            "delta": delta,
            "finish_reason": choice.get("finish_reason"),
            "logprobs": choice.get("logprobs"),
        })
    return {"choices": chunk_choices, "usage": completion.get("usage")}


def to_response(
    completion: JSON,
    *,
    request: JSON,
    model: str,
    new_id: NewId,
    clock: Clock,
    options: Options | None = None,
    seal: Callable[[str], str] | None = None,
) -> JSON:
    """Translate a chat completion into the Response object for `request`."""
    machine = StreamTranslator(request, model=model, new_id=new_id, clock=clock, options=options, seal=seal)
    machine.feed(completion_to_chunk(completion))
    machine.finish()
    return machine.response
