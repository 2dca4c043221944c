"""The pure translators: no I/O, no clock, no randomness (ids and time are passed in).

One sub-package per direction; `responses_via_chat/` serves a Responses client from a chat upstream.
Its public names are re-exported here:

    from openai_bridge.translate import to_chat_request, to_response, StreamTranslator

- `to_chat_request(request, default_model=..., options=...) -> Down` (`.chat`, `.dropped`)
- `to_response(completion, request=..., model=..., new_id=..., clock=...) -> dict`
- `StreamTranslator(request, model=..., new_id=..., clock=...)` with `start()`, `feed(chunk)`,
  `finish()`, `fail(code, message)`, each returning the Responses events to send.
"""

from .responses_via_chat import (
    Down,
    Dropped,
    Options,
    StreamTranslator,
    ThinkSplitter,
    completion_to_chunk,
    to_chat_request,
    to_response,
)

__all__ = [
    "Down",
    "Dropped",
    "Options",
    "StreamTranslator",
    "ThinkSplitter",
    "completion_to_chunk",
    "to_chat_request",
    "to_response",
]
