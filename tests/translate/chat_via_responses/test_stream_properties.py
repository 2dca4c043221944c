"""Property tests for the Responses event -> chat chunk machine (WIRE.md, "The reverse direction").

A generated chat answer goes through the bridge's forward direction (chat chunks split at random ->
Responses events, and the final Response), as a Responses upstream would send it, in three dialects: as
OpenAI sends it, as llama.cpp does (no sequence numbers or indexes, bare `response.created`), and as a lax
server might (no deltas: every text whole in its `.done` event). Whatever the split and dialect:

- the chunks keep the chat stream grammar and validate with the OpenAI SDK;
- joined by the SDK's own accumulator, they are the non-stream completion of the same final Response;
- and that completion says what the original chat answer said (the round trip chat -> Responses -> chat).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openai_bridge.errors import UpstreamError, UpstreamProtocolError
from openai_bridge.ids import SequentialIds
from openai_bridge.translate import ChatStreamTranslator, StreamTranslator, to_chat_completion
from tests.translate.chat_via_responses.joined import check_chunks, comparable, joined
from tests.translate.test_stream_properties import ANSWERS, Answer, chunks

JSON = dict[str, Any]
CLOCK = 1700000000
DIALECTS = ["openai", "llamacpp", "done_events_only"]
INDEXES = ("sequence_number", "output_index", "content_index", "summary_index")


def upstream(chunk_list: list[JSON], *, summary: bool, cut: int | None = None) -> list[JSON]:
    """The Responses events a Responses upstream sends for the chat answer in `chunk_list` (cut short and
    failed after `cut` chunks, if given)."""
    request: JSON = {"reasoning": {"summary": "auto"}} if summary else {}
    machine = StreamTranslator(request, model="up", new_id=SequentialIds(), clock=lambda: CLOCK)
    events = machine.start()
    for chunk in chunk_list[:cut]:
        events += machine.feed(chunk)
    events += machine.finish() if cut is None else machine.fail("server_error", "the model crashed")
    return events


def in_dialect(events: list[JSON], dialect: str) -> list[JSON]:
    if dialect == "openai":
        return events
    out = []
    for event in events:
        if dialect == "done_events_only" and (event["type"].endswith(".delta")
                                              or event["type"] == "response.output_item.added"):
            continue
        event = {k: v for k, v in event.items() if k not in INDEXES}
        if event["type"] in ("response.created", "response.in_progress"):
            event["response"] = {k: event["response"][k] for k in ("id", "object", "status")}
        out.append(event)
    return out


def translate(events: list[JSON], *, include_usage: bool) -> list[JSON]:
    machine = ChatStreamTranslator(model="m", new_id=SequentialIds(), clock=lambda: CLOCK, include_usage=include_usage)
    out: list[JSON] = []
    for event in events:
        out += machine.feed(event)
    out += machine.finish()
    assert machine.feed(events[-1]) == [] and machine.finish() == [], "nothing after the end"
    return out


def non_stream(response: JSON) -> JSON:
    return comparable(dict(to_chat_completion(response, model="m", new_id=SequentialIds(), clock=lambda: CLOCK)))


def expected(answer: Answer) -> JSON:
    """What the chat client must be told: what the chat answer said."""
    text, calls = answer.expected_text, [(cid, "function", name, args) for cid, name, args in answer.calls]
    finish = answer.finish_reason if answer.finish_reason in ("length", "content_filter") else (
        "tool_calls" if calls else "stop")
    return {"content": text if text or not calls else None, "reasoning_content": answer.expected_reasoning or None,
            "tool_calls": calls, "finish_reason": finish}


@settings(max_examples=150, deadline=None)
@given(answer=ANSWERS, data=st.data(), dialect=st.sampled_from(DIALECTS), summary=st.booleans(),
       include_usage=st.booleans())
def test_joined_stream_is_the_non_stream_completion(answer: Answer, data: st.DataObject, dialect: str,
                                                    summary: bool, include_usage: bool) -> None:
    events = upstream(data.draw(chunks(answer), label="chat chunks"), summary=summary)
    final = events[-1]["response"]
    out = translate(in_dialect(events, dialect), include_usage=include_usage)

    check_chunks(out, include_usage=include_usage)
    streamed, completion = joined(out), non_stream(final)
    if not include_usage:
        streamed.pop("usage")
    else:
        assert streamed["usage"]["prompt_tokens"] == answer.usage["prompt_tokens"]
        assert streamed["usage"]["prompt_tokens_details"]["cached_tokens"] == (
            answer.usage["prompt_tokens_details"]["cached_tokens"])
        assert streamed["usage"]["completion_tokens_details"]["reasoning_tokens"] == (
            answer.usage["completion_tokens_details"]["reasoning_tokens"])
        completion_usage = completion.pop("usage")
        assert streamed.pop("usage") == completion_usage
    completion.pop("usage", None)
    assert streamed == completion

    said = {k: completion[k] for k in ("content", "reasoning_content", "tool_calls", "finish_reason")}
    assert said == expected(answer)


@settings(max_examples=100, deadline=None)
@given(answer=ANSWERS, data=st.data(), dialect=st.sampled_from(DIALECTS))
def test_a_failed_upstream_stream_raises_after_a_valid_prefix(answer: Answer, data: st.DataObject,
                                                               dialect: str) -> None:
    chunk_list = data.draw(chunks(answer), label="chat chunks")
    cut = data.draw(st.integers(0, len(chunk_list)), label="cut")
    events = in_dialect(upstream(chunk_list, summary=False, cut=cut), dialect)
    machine = ChatStreamTranslator(model="m", new_id=SequentialIds(), clock=lambda: CLOCK, include_usage=True)
    out: list[JSON] = []
    with pytest.raises(UpstreamError) as info:
        for event in events:
            out += machine.feed(event)
    assert info.value.code == "server_error" and info.value.status == 502
    assert "the model crashed" in info.value.message
    assert all(c["choices"] and c["choices"][0]["finish_reason"] is None for c in out), "no finish after a failure"
    assert machine.feed(events[-1]) == [] and machine.finish() == []


def test_a_stream_without_a_terminal_event_is_an_upstream_fault() -> None:
    machine = ChatStreamTranslator(model="m", new_id=SequentialIds(), clock=lambda: CLOCK)
    assert machine.feed({"type": "response.output_text.delta", "item_id": "msg_1", "delta": "Hi"})
    with pytest.raises(UpstreamProtocolError):
        machine.finish()


def test_an_error_event_raises_its_code_and_status() -> None:
    machine = ChatStreamTranslator(model="m", new_id=SequentialIds(), clock=lambda: CLOCK)
    machine.feed({"type": "response.created", "response": {"id": "resp_1", "object": "response"}})
    with pytest.raises(UpstreamError) as info:
        machine.feed({"type": "error", "code": "rate_limit_exceeded", "message": "Slow down.", "param": None})
    assert (info.value.status, info.value.code, info.value.message) == (429, "rate_limit_exceeded",
                                                                        "Upstream error: Slow down.")
    assert machine.feed({"type": "response.output_text.delta", "delta": "late"}) == []


def test_logprobs_stream_as_they_do_non_stream() -> None:
    lp = [{"token": "Hi", "logprob": -0.25, "top_logprobs": [{"token": "Hi", "logprob": -0.25}]}]
    request: JSON = {"include": ["message.output_text.logprobs"]}
    forward = StreamTranslator(request, model="up", new_id=SequentialIds(), clock=lambda: CLOCK)
    events = forward.start() + forward.feed(
        {"choices": [{"index": 0, "delta": {"content": "Hi"}, "logprobs": {"content": lp}, "finish_reason": "stop"}]}
    ) + forward.finish()
    out = translate(events, include_usage=False)
    check_chunks(out, include_usage=False)
    completion = non_stream(events[-1]["response"])
    assert completion["logprobs"] == [("Hi", -0.25)]
    streamed = joined(out)
    streamed.pop("usage")
    completion.pop("usage")
    assert streamed == completion
