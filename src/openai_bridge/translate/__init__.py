"""The pure translators: no I/O, no clock, no randomness (ids and time are passed in).

One sub-package per direction; `responses_via_chat/` serves a Responses client from a chat upstream,
`chat_via_responses/` a chat client from a Responses upstream; `responses_native/` repairs what an upstream
serving the Responses API itself answers. Their public names are re-exported here:

    from openai_bridge.translate import to_chat_request, to_response, StreamTranslator
    from openai_bridge.translate import to_responses_request, to_chat_completion, ChatStreamTranslator

- `to_chat_request(request, default_model=..., options=..., unseal=...) -> Down` (`.chat: ChatRequest`,
  `.dropped`); `request` is the client's body as untrusted JSON (`Mapping[str, object]`).
- `to_response(completion: ChatCompletion, request=..., model=..., new_id=..., clock=...) -> Response`
- `StreamTranslator(request, model=..., new_id=..., clock=...)` with `start()`, `feed(chunk: ChatChunk)`,
  `finish()`, `fail(code, message)`, each returning the `ResponseStreamEvent`s to send.
- `StreamRepair(request, model=..., new_id=..., clock=...)` with `feed(event_name, data)`, `finish()`,
  `fail(code, message)`: a native upstream's Responses events -> the events to send.
- `repair_response(response, request, model=..., new_id=..., clock=...) -> Response`: the same for a
  non-stream answer.

The reverse direction:

- `to_responses_request(chat, default_model=..., strict=..., reasoning_back=...) -> ResponsesDown`
  (`.request: ResponsesRequest`, `.dropped`, `.stream`, `.include_usage`); `chat` is untrusted JSON.
- `to_chat_completion(response, model=..., new_id=..., clock=...) -> ChatCompletion`; a failed response
  raises the `UpstreamError` to answer with (`upstream_failure` builds it).
- `ChatStreamTranslator(model=..., new_id=..., clock=..., include_usage=...)` with `feed(event)` and
  `finish()`, each returning the `ChatChunk`s to send; `response.failed` / `error` events raise.

The shapes are the TypedDicts of `openai_bridge.wire.chat` and `openai_bridge.wire.responses`.
"""

from .chat_via_responses import (
    ChatStreamTranslator,
    ResponsesDown,
    to_chat_completion,
    to_responses_request,
    upstream_failure,
)
from .responses_native import StreamRepair, repair_response
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
    "ChatStreamTranslator",
    "Down",
    "Dropped",
    "Options",
    "ResponsesDown",
    "StreamRepair",
    "StreamTranslator",
    "ThinkSplitter",
    "completion_to_chunk",
    "repair_response",
    "to_chat_completion",
    "to_chat_request",
    "to_response",
    "to_responses_request",
    "upstream_failure",
]
