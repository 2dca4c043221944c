"""What a chat client makes of a chunk stream, through the OpenAI SDK's own accumulator; and the checks every
chunk stream of the reverse direction must pass (WIRE.md, "The reverse direction")."""

from __future__ import annotations

from typing import Any

from openai._types import omit
from openai.lib.streaming.chat._completions import ChatCompletionStreamState
from openai.types.chat import ChatCompletion, ChatCompletionChunk

JSON = dict[str, Any]


def check_chunks(chunks: list[JSON], *, include_usage: bool) -> None:
    """The grammar of a chat stream: one id and `created`; the first chunk has the role; exactly one chunk
    has a `finish_reason`, and after it only the usage chunk (`choices: []`), when the client asked for it; a
    tool call is announced once with its index, id, type and name, then only argument deltas follow."""
    assert chunks, "a stream has chunks"
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
        assert chunk["object"] == "chat.completion.chunk"
        assert (chunk["id"], chunk["created"], chunk["model"]) == (chunks[0]["id"], chunks[0]["created"],
                                                                   chunks[0]["model"])
        assert ("usage" in chunk) is include_usage
    assert chunks[0]["choices"][0]["delta"].get("role") == "assistant"
    finishing = [i for i, c in enumerate(chunks) if c["choices"] and c["choices"][0]["finish_reason"] is not None]
    assert len(finishing) == 1, "exactly one chunk with a finish_reason"
    after = chunks[finishing[0] + 1:]
    if include_usage:
        assert len(after) == 1 and after[0]["choices"] == [] and after[0]["usage"] is not None
        assert all(c["usage"] is None for c in chunks[:-1])
    else:
        assert after == []
    announced: list[str] = []
    for chunk in chunks[:finishing[0] + 1]:
        assert len(chunk["choices"]) == 1 and chunk["choices"][0]["index"] == 0
        for call in chunk["choices"][0]["delta"].get("tool_calls") or []:
            if call["index"] == len(announced):  # a new call: all of its header, no arguments yet
                assert set(call) == {"index", "id", "type", "function"} and call["type"] == "function"
                assert call["function"]["arguments"] == "" and call["function"]["name"]
                assert not call["id"].startswith("fc_"), "the call's call_id, never its item id"
                announced.append(call["id"])
            else:
                assert call["index"] < len(announced), "calls are announced in index order"
                assert set(call) == {"index", "function"} and set(call["function"]) == {"arguments"}


def joined(chunks: list[JSON]) -> JSON:
    """The completion the SDK's stream accumulator builds from the chunks, in the fields a completion has."""
    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState(input_tools=omit, response_format=omit)
    for chunk in chunks:
        list(state.handle_chunk(ChatCompletionChunk.model_validate(chunk)))
    # The snapshot, not `get_final_completion()`: that one parses the content and raises on `length`.
    final = state.current_completion_snapshot.model_dump(exclude_unset=True)
    return comparable(final)


def comparable(completion: JSON) -> JSON:
    """The answer in a completion (not its id or time), as a client reads it.

    The one normalisation: a stream's first chunk carries `content: ""` (as OpenAI's do) before it can know
    whether the answer is text at all, so an answer of only tool calls or a refusal joins to `""` where the
    non-stream completion says `null`."""
    ChatCompletion.model_validate(completion)
    choice = completion["choices"][0]
    message = choice["message"]
    calls = [(c["id"], c["type"], c["function"]["name"], c["function"]["arguments"])
             for c in message.get("tool_calls") or []]
    content = message.get("content")
    if content == "" and (calls or message.get("refusal")):
        content = None
    logprobs = choice.get("logprobs") or {}
    return {
        "content": content,
        "refusal": message.get("refusal"),
        "reasoning_content": message.get("reasoning_content"),
        "tool_calls": calls,
        "finish_reason": choice["finish_reason"],
        "logprobs": [(t["token"], t["logprob"]) for t in logprobs.get("content") or []],
        "usage": completion.get("usage"),
    }
