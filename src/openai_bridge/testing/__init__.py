"""The test kit: scripted upstreams and a bridge on a real port, for testing the bridge and clients of it.

    from openai_bridge.testing import ScriptedUpstream, running_bridge, answer
    from openai_bridge.settings import Settings

    with ScriptedUpstream() as up, running_bridge(Settings(upstream=up.base_url)) as url:
        up.push(answer("Hello!"))
        ...                       # your client, with base_url=url + "/v1"
        up.last.body              # the chat request the bridge sent upstream

- `ScriptedUpstream`: a real HTTP chat (and Responses) server on a free port whose answers you script.
- `FakeUpstream`: the same scripts in-process, plugged into `create_app(settings, upstream=...)`.
- `running_bridge`: the real bridge app, served on a free port in a thread.

The product never imports this package.
"""

from .bridge import free_port, running_bridge
from .fake import FakeStream, FakeUpstream
from .scripted import (
    SSE,
    USAGE,
    Answer,
    Garbage,
    Hang,
    Json,
    Pause,
    Received,
    ScriptedUpstream,
    answer,
    chunk,
    completion,
    drop_after,
    error_body,
    garbage,
    hang,
    json,
    pause,
    responses_sse,
    sse,
    text_chunks,
    tool_call_chunks,
)

__all__ = [
    "SSE", "USAGE", "Answer", "FakeStream", "FakeUpstream", "Garbage", "Hang", "Json", "Pause", "Received",
    "ScriptedUpstream", "answer", "chunk", "completion", "drop_after", "error_body", "free_port", "garbage",
    "hang", "json", "pause", "responses_sse", "running_bridge", "sse", "text_chunks", "tool_call_chunks",
]
