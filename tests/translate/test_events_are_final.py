"""An event, once handed out, is never changed: what the sinks rely on.

The service serialises events later than the machine emits them (a slow client's sink lags behind, a
stored stream is replayed). So for any upstream answer, however it is chunked, and however it ends,
serialising each batch the moment `start()` / `feed()` / `finish()` / `fail()` returns it must give the
same bytes as serialising the same event objects after the stream is over.

The chunk sequences here are rougher than a real upstream's: reasoning, text, refusals and tool calls
interleave in any order, arguments arrive before names or as parsed objects, some chunks are junk. Every
event must also have exactly the type `openai_bridge.wire.responses` declares for it.
"""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from openai_bridge.ids import SequentialIds
from openai_bridge.translate import Options, StreamTranslator
from openai_bridge.wire.responses import ResponseStreamEvent

from ..wire.shapes import mismatches

JSON = dict[str, Any]
FUNCTIONS = ["get_weather", "exec", "ns_fn"]
CUSTOM = "apply_patch"

TEXT = st.one_of(
    st.sampled_from(["", " ", "\n", "<think>", "</think>", "<thi", "nk>", "</", "Hello", "é中😀", '{"input": "x"}',
                     '{"a": ', "1}", "\\"]),
    st.text(max_size=6),
)
TOKEN_LOGPROB = st.fixed_dictionaries({
    "token": st.text(max_size=3), "logprob": st.floats(-20, 0), "bytes": st.lists(st.integers(0, 255), max_size=3),
    "top_logprobs": st.lists(st.fixed_dictionaries({"token": st.text(max_size=3), "logprob": st.floats(-20, 0),
                                                    "bytes": st.lists(st.integers(0, 255), max_size=3)}), max_size=2),
})


@st.composite
def tool_call_delta(draw: st.DrawFn) -> JSON:
    call: JSON = {}
    if draw(st.booleans()):
        call["index"] = draw(st.integers(0, 3))
    if draw(st.booleans()):
        call["id"] = draw(st.sampled_from(["call_a", "call_b", "", None, 7]))
    fn: JSON = {}
    if draw(st.integers(0, 2)) == 0:
        fn["name"] = draw(st.sampled_from([*FUNCTIONS, CUSTOM, "", None]))
    if draw(st.booleans()):
        fn["arguments"] = draw(st.one_of(TEXT, st.just({"parsed": [1, "two"]})))
    if fn or draw(st.booleans()):
        call["function"] = fn
    return call


@st.composite
def delta(draw: st.DrawFn) -> JSON:
    d: JSON = {}
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["reasoning_content", "reasoning", "content", "refusal", "tool_calls", "role"]))
        if kind == "tool_calls":
            d["tool_calls"] = draw(st.lists(tool_call_delta(), min_size=1, max_size=2))
        elif kind == "role":
            d["role"] = "assistant"
        else:
            d[kind] = draw(TEXT)
    return d


@st.composite
def chunk(draw: st.DrawFn) -> JSON:
    kind = draw(st.integers(0, 9))
    if kind == 0:  # usage only
        return {"choices": [], "usage": {"prompt_tokens": draw(st.integers(0, 9)), "completion_tokens": 3,
                                         "completion_tokens_details": {"reasoning_tokens": 1}}}
    if kind == 1:  # junk an upstream should not send, and the machine must survive
        return draw(st.sampled_from([
            {}, {"choices": None}, {"choices": ["x"]}, {"choices": [{"index": 1, "delta": {"content": "other"}}]},
            {"choices": [{"index": 0, "delta": "text"}]}, {"choices": [{"index": 0, "delta": {"tool_calls": {}}}]},
        ]))
    choice: JSON = {"index": 0, "delta": draw(delta())}
    if draw(st.integers(0, 5)) == 0:
        choice["finish_reason"] = draw(st.sampled_from(["stop", "length", "tool_calls", "content_filter"]))
    if "content" in choice["delta"] and draw(st.booleans()):
        choice["logprobs"] = {"content": draw(st.lists(TOKEN_LOGPROB, max_size=2))}
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [choice]}


REQUESTS = st.builds(
    lambda summary, sealed, tools: {
        "input": "hi",
        **({"reasoning": {"summary": "auto"}} if summary else {}),
        **({"include": ["reasoning.encrypted_content"]} if sealed else {}),
        **({"tools": [{"type": "function", "name": "get_weather"}, {"type": "custom", "name": CUSTOM},
                      {"type": "namespace", "name": "ns", "tools": [{"type": "function", "name": "ns_fn"}]}]}
           if tools else {}),
    },
    st.booleans(), st.booleans(), st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(request=REQUESTS, chunks=st.lists(chunk(), max_size=25), think=st.booleans(),
       ending=st.sampled_from(["finish", "fail"]), data=st.data())
def test_an_emitted_event_never_changes(request: JSON, chunks: list[JSON], think: bool, ending: str,
                                        data: st.DataObject) -> None:
    machine = StreamTranslator(request, model="m", new_id=SequentialIds(), clock=lambda: 1700000000,
                               options=Options(think_tags=think), seal=lambda text: f"sealed:{len(text)}")
    events: list[ResponseStreamEvent] = []
    sent: list[bytes] = []  # what a sink writing each batch at once would have written

    def take(batch: list[ResponseStreamEvent]) -> None:
        events.extend(batch)
        sent.extend(orjson.dumps(e) for e in batch)

    take(machine.start())
    cut = data.draw(st.integers(0, len(chunks)), label="cut") if ending == "fail" else len(chunks)
    for c in chunks[:cut]:
        take(machine.feed(c))
    take(machine.finish() if ending == "finish" else machine.fail("server_error", "upstream went away"))
    # Whatever comes after the end changes nothing either.
    for c in chunks[cut:]:
        assert machine.feed(c) == []
    assert machine.finish() == [] and machine.fail("server_error", "again") == []

    assert [orjson.dumps(e) for e in events] == sent, "an event changed after it was handed out"
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    for i, event in enumerate(events):
        assert mismatches(event, ResponseStreamEvent) == [], f"event {i} ({event['type']})"
