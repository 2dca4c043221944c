"""A chat client in front of a Responses-only upstream (WIRE.md, "The reverse direction").

Down: the chat completions request -> a Responses create request (`request.py`). Up: the Response ->
a chat completion (`response.py`), and the Responses event stream -> chat completion chunks (`stream.py`,
the state machine), both reading the final Response the same way.
"""

from .request import ResponsesDown, to_responses_request
from .response import to_chat_completion, upstream_failure
from .stream import ChatStreamTranslator

__all__ = ["ChatStreamTranslator", "ResponsesDown", "to_chat_completion", "to_responses_request", "upstream_failure"]
