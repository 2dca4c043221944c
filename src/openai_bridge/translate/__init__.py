"""The pure translators: no I/O, no clock, no randomness (ids and time are passed in).

    from openai_bridge.translate import to_chat_request, to_response, StreamTranslator

- `to_chat_request(request, default_model=..., options=...) -> Down` (`.chat`, `.dropped`)
- `to_response(completion, request=..., model=..., new_id=..., clock=...) -> dict`
- `StreamTranslator(request, model=..., new_id=..., clock=...)` with `start()`, `feed(chunk)`,
  `finish()`, `fail(code, message)`, each returning the Responses events to send.
"""

from .options import Options
from .request import Down, Dropped, to_chat_request
from .response import completion_to_chunk, to_response
from .stream import StreamTranslator
from .think import ThinkSplitter

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
