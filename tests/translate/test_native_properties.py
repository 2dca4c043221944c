"""Property tests of the native stream repair: whatever an upstream leaves out, and however the network cuts
its bytes, the repaired stream follows the grammar, the SDK's accumulator takes it, and it ends in the same
final object as the well-formed stream of the same answer.

The well-formed stream is the bridge's own (`StreamTranslator` over random chat chunks: the golden and
property tests hold it to OpenAI's grammar). It is then damaged the ways llama.cpp and older servers damage
theirs (tests/cases_native/README.md), rendered as SSE bytes, split at random points and decoded as the
upstream layer decodes, then repaired.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from openai._types import omit
from openai.lib.streaming.responses._responses import ResponseStreamState
from pydantic import TypeAdapter

from openai_bridge.ids import SequentialIds
from openai_bridge.translate import StreamRepair, StreamTranslator
from tests.test_golden import check_invariants
from tests.translate.test_native_golden import CLOCK, upstream_events

JSON = dict[str, Any]
EVENT: TypeAdapter[Any] = TypeAdapter(__import__("openai").types.responses.ResponseStreamEvent)
LIFECYCLE = {"response.created", "response.in_progress"}
TERMINAL = {"response.completed", "response.incomplete", "response.failed"}
CLOSING_FAMILIES = ["response.output_text", "response.content_part", "response.function_call_arguments",
                    "response.reasoning_text"]

TEXT = st.text(st.characters(codec="utf-8", exclude_characters="<\x00"), min_size=1, max_size=12)
PIECES = st.lists(TEXT, min_size=1, max_size=4)
NAME = st.text(st.sampled_from("abcdefghij_"), min_size=1, max_size=6)
ARGS = st.dictionaries(st.text(max_size=4), st.integers() | st.text(max_size=4), max_size=3).map(json.dumps)


@dataclass(frozen=True)
class Answer:
    reasoning: list[str] | None
    text: list[str] | None
    calls: list[tuple[str, list[str]]]  # (name, argument pieces)
    cut: bool
    tokens: int


@st.composite
def answers(draw: st.DrawFn) -> Answer:
    calls = []
    for _ in range(draw(st.integers(0, 2))):
        args = draw(ARGS)
        cuts = sorted(draw(st.sets(st.integers(1, max(1, len(args) - 1)), max_size=3)))
        calls.append((draw(NAME), [args[a:b] for a, b in zip([0, *cuts], [*cuts, len(args)], strict=False)
                                   if args[a:b]]))
    return Answer(draw(st.none() | PIECES), draw(st.none() | PIECES), calls, draw(st.booleans()),
                  draw(st.integers(1, 60)))


def request_for(answer: Answer, limit_margin: int | None) -> JSON:
    request: JSON = {"model": "m", "input": "hi"}
    if answer.calls:
        request["tools"] = [{"type": "function", "name": name} for name, _ in answer.calls]
    if answer.cut:
        request["max_output_tokens"] = answer.tokens
    elif limit_margin is not None:
        request["max_output_tokens"] = answer.tokens + limit_margin
    return request


def well_formed(answer: Answer, request: JSON) -> list[JSON]:
    """The bridge's own stream of `answer`."""
    machine = StreamTranslator(request, model="m", new_id=SequentialIds(), clock=lambda: CLOCK)
    events = machine.start()
    for piece in answer.reasoning or []:
        events += machine.feed({"choices": [{"index": 0, "delta": {"reasoning_content": piece}}]})
    for piece in answer.text or []:
        events += machine.feed({"choices": [{"index": 0, "delta": {"content": piece}}]})
    for i, (name, pieces) in enumerate(answer.calls):
        for j, piece in enumerate(pieces):
            call: JSON = {"index": i, "function": {"arguments": piece}}
            if j == 0:
                call.update(id=f"call_{i}", type="function", function={"name": name, "arguments": piece})
            events += machine.feed({"choices": [{"index": 0, "delta": {"tool_calls": [call]}}]})
    finish = "length" if answer.cut else "tool_calls" if answer.calls else "stop"
    events += machine.feed({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}],
                            "usage": {"prompt_tokens": 5, "completion_tokens": answer.tokens,
                                      "total_tokens": 5 + answer.tokens}})
    events += machine.finish()
    return [orjson.loads(orjson.dumps(e)) for e in events]


@dataclass(frozen=True)
class Damage:
    numbers: bool  # no sequence_number, output_index, content_index
    bare: bool  # snapshots with id, object, status only; a terminal object without the echo or usage details
    anonymous_calls: bool  # function calls without an id, named by their call_id (llama.cpp)
    dropped: frozenset[str]  # families whose closing events are left out
    says_completed: bool  # a cut answer reported `completed` (llama.cpp)
    no_deltas: bool  # the values only in the closing events and items (a server that does not stream them)
    framing: str  # "named" | "data_only" (+ [DONE]) | "name_only" (the type only in the `event:` line)


DAMAGE = st.builds(Damage, st.booleans(), st.booleans(), st.booleans(),
                   st.frozensets(st.sampled_from(CLOSING_FAMILIES)), st.booleans(), st.booleans(),
                   st.sampled_from(["named", "data_only", "name_only"]))


def damaged(events: list[JSON], d: Damage) -> list[JSON]:
    out = []
    call_ids: dict[str, str] = {}
    for e in orjson.loads(orjson.dumps(events)):
        kind = e["type"]
        family = kind.rsplit(".", 1)[0]
        if (family in d.dropped and kind.endswith(".done")) or (d.no_deltas and kind.endswith(".delta")):
            continue
        if d.numbers:
            for key in ("sequence_number", "output_index", "content_index"):
                e.pop(key, None)
        item = e.get("item")
        if isinstance(item, dict) and item["type"] == "function_call":
            call_ids[item["id"]] = item["call_id"]
            if d.anonymous_calls:
                del item["id"]
        if d.anonymous_calls and e.get("item_id") in call_ids:
            e["item_id"] = call_ids[e["item_id"]]
        if d.says_completed and isinstance(item, dict) and item.get("status") == "incomplete":
            item["status"] = "completed"
        if kind in LIFECYCLE and d.bare:
            e["response"] = {k: e["response"][k] for k in ("id", "object", "status")}
        if kind in TERMINAL:
            r = e["response"]
            for out_item in r["output"]:
                if d.anonymous_calls and out_item["type"] == "function_call":
                    del out_item["id"]
                if d.says_completed and out_item.get("status") == "incomplete":
                    out_item["status"] = "completed"
            if d.says_completed and kind == "response.incomplete":
                e["type"] = "response.completed"
                r.update(status="completed", incomplete_details=None)
            if d.bare:
                usage = {k: r["usage"][k] for k in ("input_tokens", "output_tokens", "total_tokens")}
                r = {**{k: r[k] for k in ("id", "object", "created_at", "status", "model", "output")}, "usage": usage}
            e["response"] = r
        out.append(e)
    return out


def sse(events: list[JSON], framing: str) -> bytes:
    frames = []
    for e in events:
        if framing == "named":
            frames.append(b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps(e) + b"\n\n")
        elif framing == "data_only":
            frames.append(b"data: " + orjson.dumps(e) + b"\n\n")
        else:
            frames.append(b"event: " + e["type"].encode() + b"\ndata: "
                          + orjson.dumps({k: v for k, v in e.items() if k != "type"}) + b"\n\n")
    return b"".join(frames) + (b"data: [DONE]\n\n" if framing == "data_only" else b"")


def repaired(request: JSON, blob: bytes, splits: list[int]) -> list[JSON]:
    machine = StreamRepair(request, model="m", new_id=SequentialIds(), clock=lambda: CLOCK)
    out: list[Any] = []
    for name, data in upstream_events(blob, splits):
        out += machine.feed(name, data)
    out += machine.finish()
    return [orjson.loads(orjson.dumps(e)) for e in out]


def without_call_ids(response: JSON) -> JSON:
    return {**response, "output": [{k: v for k, v in item.items() if not (k == "id" and item["type"] ==
                                                                          "function_call")}
                                   for item in response["output"]]}


def sdk_accepts(events: list[JSON]) -> None:
    state: ResponseStreamState[Any] = ResponseStreamState(input_tools=omit, text_format=omit)
    for e in events:
        state.handle_event(EVENT.validate_python(e))
    if events[-1]["type"] == "response.completed":
        completed = state._completed_response
        assert completed is not None
        assert [i.type for i in completed.output] == [i["type"] for i in events[-1]["response"]["output"]]


@settings(max_examples=200, deadline=None)
@given(answer=answers(), damage=DAMAGE, margin=st.none() | st.integers(1, 5), data=st.data())
def test_any_damage_and_split_repairs_to_the_same_final_object(answer: Answer, damage: Damage, margin: int | None,
                                                               data: st.DataObject) -> None:
    request = request_for(answer, margin)
    truth = well_formed(answer, request)
    blob = sse(damaged(truth, damage), damage.framing)
    splits = data.draw(st.lists(st.integers(1, len(blob) - 1), max_size=12), label="splits")
    out = repaired(request, blob, splits)

    check_invariants(out)
    sdk_accepts(out)
    expected, final = truth[-1]["response"], out[-1]["response"]
    if damage.anonymous_calls:
        expected, final = without_call_ids(expected), without_call_ids(final)
    assert final == expected
    assert out[-1]["type"] == truth[-1]["type"]


@settings(max_examples=100, deadline=None)
@given(answer=answers(), margin=st.none() | st.integers(1, 5), data=st.data())
def test_a_well_formed_stream_comes_out_as_it_went_in(answer: Answer, margin: int | None,
                                                       data: st.DataObject) -> None:
    request = request_for(answer, margin)
    truth = well_formed(answer, request)
    blob = sse(truth, "named")
    splits = data.draw(st.lists(st.integers(1, len(blob) - 1), max_size=12), label="splits")
    assert repaired(request, blob, splits) == truth
