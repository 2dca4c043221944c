"""A Responses client in front of a Chat Completions upstream.

Down: the Responses create request -> a chat request (`request.py`). Up: the chat answer -> Responses
events and the Response object (`stream.py`, the state machine; `response.py` feeds a non-stream answer
through it as one chunk), with `<think>` tags split off the content (`think.py`) and every request setting
echoed on the Response (`envelope.py`). `options.py`: how a given chat upstream wants its requests shaped.
"""

from ..dropped import Dropped
from .options import Options
from .request import Down, to_chat_request
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
