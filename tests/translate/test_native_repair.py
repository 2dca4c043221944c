"""The native stream repair, rule by rule: what llama.cpp's own `/v1/responses` gets wrong (the recorded
answers of tests/cases_native/), what the OpenAI SDK makes of it before and after the repair, a well-formed
stream left as it is, and the ends a stream can come to."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx2
import orjson
import pytest
from openai import OpenAI
from openai.types.responses import Response

from openai_bridge.ids import SequentialIds
from openai_bridge.translate import StreamRepair, repair_response
from openai_bridge.wire.sse import frame
from tests.support.conformance import event_problems, response_problems
from tests.test_golden import check_invariants, check_response, sse_events
from tests.translate.test_native_golden import CASES, CLOCK, repaired_stream, request_of, upstream_events

GOLDEN = Path(__file__).resolve().parents[1] / "cases"
JSON = dict[str, Any]
MSG = "msg_1"


def repair(events: list[JSON], request: JSON | None = None, *, end: bool = True) -> tuple[list[JSON], StreamRepair]:
    machine = StreamRepair(request or {"input": "hi"}, model="m", new_id=SequentialIds(), clock=lambda: CLOCK)
    out: list[Any] = []
    for event in events:
        out += machine.feed(None, event)
    if end:
        out += machine.finish()
    return [orjson.loads(orjson.dumps(e)) for e in out], machine


def sdk_read(blob: bytes) -> tuple[list[Any], Any]:
    """The real SDK's `responses.stream()` over `blob` as the server's answer: its events, and its final
    Response when the stream completed."""
    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=blob)

    with httpx2.Client(transport=httpx2.MockTransport(answer)) as http, \
            OpenAI(base_url="http://upstream.invalid/v1", api_key="k", max_retries=0, http_client=http) as client, \
            client.responses.stream(model="m", input="hi") as stream:
        events = list(stream)
        final = stream.get_final_response() if events[-1].type == "response.completed" else None
    return events, final


def llamacpp_text() -> list[JSON]:
    return [data for _, data in upstream_events((CASES / "llamacpp_text" / "upstream.sse").read_bytes())]


def text_stream(deltas: list[str], *, usage: JSON | None = None, done: bool = True) -> list[JSON]:
    """A llama.cpp-shaped answer of one message."""
    text = "".join(deltas)
    part = {"type": "output_text", "annotations": [], "logprobs": [], "text": text}
    item = {"type": "message", "status": "completed", "id": MSG, "content": [part], "role": "assistant"}
    bare = {"id": "resp_1", "object": "response", "status": "in_progress"}
    return [
        {"type": "response.created", "response": bare},
        {"type": "response.in_progress", "response": bare},
        {"type": "response.output_item.added",
         "item": {"content": [], "id": MSG, "role": "assistant", "status": "in_progress", "type": "message"}},
        {"type": "response.content_part.added", "item_id": MSG, "part": {"type": "output_text", "text": ""}},
        *({"type": "response.output_text.delta", "item_id": MSG, "delta": d} for d in deltas),
        *([{"type": "response.output_text.done", "item_id": MSG, "text": text},
           {"type": "response.content_part.done", "item_id": MSG, "part": part},
           {"type": "response.output_item.done", "item": item}] if done else []),
        {"type": "response.completed", "response": {
            "id": "resp_1", "object": "response", "created_at": 1, "status": "completed", "model": "m",
            "output": [item] if done else [],
            "usage": usage or {"input_tokens": 3, "output_tokens": len(deltas), "total_tokens": 3 + len(deltas)}}},
    ]


# ---- what llama.cpp sends, and what the SDK makes of it ---------------------------------------------


def test_llamacpp_stream_defects_are_all_mended() -> None:
    raw = llamacpp_text()
    problems = {p.split(").", 1)[1] for e in raw for p in event_problems(e)}
    for defect in ("sequence_number is missing", "output_index is missing", "content_index is missing",
                   "logprobs is missing", "response.tools is missing", "response.temperature is missing",
                   "part.annotations is missing", "response.usage.output_tokens_details is missing"):
        assert defect in problems, defect
    repaired, _ = repair(raw, request_of(CASES / "llamacpp_text"))
    assert [p for e in repaired for p in event_problems(e)] == []
    check_invariants(repaired)


def test_llamacpp_non_stream_defects_are_all_mended() -> None:
    case = CASES / "llamacpp_tool_required"
    raw = json.loads((case / "upstream.json").read_text())
    problems = response_problems(raw)
    for field in ("tools", "tool_choice", "parallel_tool_calls", "temperature", "text", "instructions",
                  "max_output_tokens", "store", "metadata"):
        assert f"response.{field} is missing" in problems, field
    with pytest.raises(ValueError):
        Response.model_validate(raw)
    repaired = dict(repair_response(raw, request_of(case), model="m", new_id=SequentialIds(), clock=lambda: CLOCK))
    check_response(repaired)
    assert repaired["tool_choice"] == "required" and repaired["tools"][0]["name"] == "get_weather"
    assert repaired["status"] == "incomplete"  # llama.cpp said completed: 30 tokens of 30 allowed


@pytest.mark.parametrize("name", ["llamacpp_text", "older_data_only", "llamacpp_shape_reasoning_tool_calls"])
def test_the_sdk_fails_on_the_upstream_stream_and_reads_the_repaired_one(name: str) -> None:
    raw = (CASES / name / "upstream.sse").read_bytes()
    with pytest.raises((TypeError, RuntimeError)):
        sdk_read(raw)
    events, final = sdk_read(repaired_stream(request_of(CASES / name), upstream_events(raw)))
    assert [e.sequence_number for e in events] == list(range(len(events)))
    upstream_final = next(e for _, e in upstream_events(raw) if e["type"] == "response.completed")["response"]
    assert final.output_text == "".join(part["text"] for item in upstream_final["output"]
                                        if item["type"] == "message" for part in item["content"])
    if name == "llamacpp_shape_reasoning_tool_calls":
        calls = [item for item in final.output if item.type == "function_call"]
        assert [(c.call_id, c.arguments) for c in calls] == [
            ("fc_q8DkR2mWx5Tz", '{"city":"Paris"}'), ("fc_L3nVb7Yc0Hs1", '{"city":"Oslo"}')]
        assert final.output[0].type == "reasoning"


def test_the_sdk_reads_a_repaired_cut_answer_to_its_incomplete_end() -> None:
    case = CASES / "llamacpp_cut_by_max_output_tokens"
    events, final = sdk_read(repaired_stream(request_of(case), upstream_events((case / "upstream.sse").read_bytes())))
    assert final is None
    assert events[-1].type == "response.incomplete"
    assert events[-1].response.incomplete_details.reason == "max_output_tokens"
    assert events[-1].response.output[0].content[0].text == "In the year 2215"


# ---- a well-formed stream ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.parent.name for p in GOLDEN.glob("*/events.sse")))
def test_a_well_formed_stream_passes_unchanged(name: str) -> None:
    """The bridge's own streams (OpenAI's grammar, checked by the golden tests) come out byte for byte."""
    case = GOLDEN / name
    request = json.loads((case / "request.json").read_text()) if (case / "request.json").exists() else {}
    blob = (case / "events.sse").read_bytes()
    assert repaired_stream({**request, "stream": True}, upstream_events(blob)) == blob


# ---- the ends of a stream -----------------------------------------------------------------------------


def test_a_stream_that_stops_without_a_terminal_event_fails() -> None:
    events = llamacpp_text()
    cut_at = next(i for i, e in enumerate(events) if e["type"] == "response.output_text.delta") + 3
    out, machine = repair(events[:cut_at])
    assert [e["type"] for e in out].count("response.failed") == 1 and out[-1]["type"] == "response.failed"
    assert [e["sequence_number"] for e in out] == list(range(len(out)))
    final = out[-1]["response"]
    assert final["error"]["code"] == "upstream_bad_response"
    assert "without a terminal event" in final["error"]["message"]
    deltas = [e["delta"] for e in out if e["type"] == "response.output_text.delta"]
    assert final["output"][0]["status"] == "incomplete"
    assert final["output"][0]["content"][0]["text"] == "".join(deltas) == "Hello, welcome"
    assert machine.done and machine.feed(None, events[-1]) == [] and machine.finish() == []


def test_an_error_event_ends_the_stream_with_its_code_and_message() -> None:
    events = text_stream(["a", "b"])
    error = {"type": "error", "code": "context_length_exceeded", "message": "too long", "param": None}
    out, _ = repair([*events[:5], error, *events[5:]], end=False)
    assert out[-1]["type"] == "response.failed"
    assert out[-1]["response"]["error"] == {"code": "context_length_exceeded", "message": "too long"}
    assert [e["type"] for e in out].count("response.failed") == 1


def test_only_the_first_terminal_event_counts() -> None:
    events = text_stream(["a"])
    out, machine = repair([*events, events[-1], {"type": "response.output_text.delta", "delta": "x"}])
    assert [e["type"] for e in out][-1] == "response.completed"
    assert [e["type"] for e in out].count("response.completed") == 1
    assert machine.response is not None and machine.response["status"] == "completed"


def test_a_stream_that_opens_without_created_gets_created_and_in_progress() -> None:
    out, _ = repair(text_stream(["a", "b"])[2:])
    assert [e["type"] for e in out][:3] == ["response.created", "response.in_progress", "response.output_item.added"]
    assert out[0]["response"]["id"] == "resp_0001"  # no upstream id until the end: a new one, kept to the end
    assert out[-1]["response"]["id"] == "resp_0001" and out[-1]["response"]["model"] == "m"
    check_invariants(out)


def test_the_first_snapshot_fixes_id_time_and_model() -> None:
    events = text_stream(["a"])
    events[0] = {"type": "response.created", "response": {"id": "resp_1", "object": "response",
                                                          "created_at": 5, "model": "alias"}}
    out, _ = repair(events)
    final = out[-1]["response"]  # llama.cpp's terminal says created_at 1, model m
    assert (final["id"], final["created_at"], final["model"]) == ("resp_1", 5, "alias")
    assert final["completed_at"] == CLOCK


# ---- the cut rule -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("limit", "expected"), [(None, "completed"), (4, "completed"), (3, "incomplete"),
                                                 (2, "incomplete")])
def test_completed_is_incomplete_when_the_output_reached_max_output_tokens(limit: int | None, expected: str) -> None:
    request = {"input": "hi", **({"max_output_tokens": limit} if limit else {})}
    out, _ = repair(text_stream(["a", "b", "c"]), request)  # 3 output tokens
    final = out[-1]["response"]
    assert out[-1]["type"] == "response." + expected and final["status"] == expected
    assert [e["item"]["status"] for e in out if e["type"] == "response.output_item.done"] == [
        "completed" if expected == "completed" else "incomplete"]
    assert final["output"][0]["status"] == ("completed" if expected == "completed" else "incomplete")
    if expected == "incomplete":
        assert final["incomplete_details"] == {"reason": "max_output_tokens"} and final["completed_at"] is None
    check_invariants(out)


def test_only_the_items_the_cut_left_open_are_incomplete() -> None:
    """A reasoning item closed before the message began stays completed; the message, closed at the end, is
    incomplete (closing events are held only until the next other event)."""
    rs = {"id": "rs_1", "type": "reasoning", "summary": [], "content": [], "status": "in_progress"}
    done_rs = {**rs, "content": [{"type": "reasoning_text", "text": "hm"}], "status": "completed"}
    events = text_stream(["a", "b"])
    events[2:2] = [{"type": "response.output_item.added", "item": rs},
                   {"type": "response.reasoning_text.delta", "item_id": "rs_1", "delta": "hm"},
                   {"type": "response.reasoning_text.done", "item_id": "rs_1", "text": "hm"},
                   {"type": "response.output_item.done", "item": done_rs}]
    out, _ = repair(events, {"input": "hi", "max_output_tokens": 2})
    assert [e["item"]["status"] for e in out if e["type"] == "response.output_item.done"] == ["completed",
                                                                                             "incomplete"]
    assert [i["status"] for i in out[-1]["response"]["output"]] == ["completed", "incomplete"]
    check_invariants(out)


def test_the_non_stream_answer_follows_the_same_cut_rule() -> None:
    body = text_stream(["a", "b"])[-1]["response"]
    repaired = repair_response(body, {"max_output_tokens": 2}, model="m", new_id=SequentialIds(), clock=lambda: 9)
    assert repaired["status"] == "incomplete" and repaired["output"][0]["status"] == "incomplete"
    repaired = repair_response(body, {"max_output_tokens": 3}, model="m", new_id=SequentialIds(), clock=lambda: 9)
    assert repaired["status"] == "completed" and repaired["completed_at"] == 9


# ---- what the upstream left out -------------------------------------------------------------------------


def test_items_only_the_final_object_shows_are_announced_and_closed() -> None:
    events = text_stream(["Hel", "lo"])
    call = {"type": "function_call", "status": "completed", "arguments": '{"a":1}', "call_id": "c1", "name": "f"}
    final = {**events[-1]["response"], "output": [*events[-1]["response"]["output"], call]}
    out, _ = repair([events[0], events[1], {"type": "response.completed", "response": final}])
    check_invariants(out)
    assert [e["type"] for e in out][2:-1] == [
        "response.output_item.added", "response.content_part.added", "response.output_text.delta",
        "response.output_text.done", "response.content_part.done", "response.output_item.done",
        "response.output_item.added", "response.function_call_arguments.delta",
        "response.function_call_arguments.done", "response.output_item.done"]
    assert out[-1]["response"]["output"][1]["id"] == "fc_0001"
    _, sdk_final = sdk_read(b"".join(frame(e) for e in out))
    assert sdk_final.output_text == "Hello" and sdk_final.output[1].arguments == '{"a":1}'


def test_a_done_text_longer_than_the_deltas_sends_the_rest_as_a_delta() -> None:
    events = text_stream(["Hello"])
    events[4] = {**events[4], "delta": "Hel"}  # the rest never came as a delta
    out, _ = repair(events)
    assert [e["delta"] for e in out if e["type"] == "response.output_text.delta"] == ["Hel", "lo"]
    check_invariants(out)


def test_deltas_no_item_was_announced_for_open_one() -> None:
    events = text_stream(["a", "b"], done=False)
    del events[2:4]  # no output_item.added, no content_part.added
    out, _ = repair(events)
    check_invariants(out)
    assert out[-1]["response"]["output"][0]["content"][0]["text"] == "ab"


def test_an_event_without_type_takes_its_sse_name() -> None:
    machine = StreamRepair({}, model="m", new_id=SequentialIds(), clock=lambda: CLOCK)
    out = machine.feed("response.created", {"response": {"id": "resp_9"}})
    assert out[0]["type"] == "response.created" and out[0]["response"]["id"] == "resp_9"
    assert machine.feed(None, {"delta": "x"}) == [] and machine.dropped == ["(no type)"]


def test_content_index_follows_the_order_of_the_parts() -> None:
    events = text_stream(["a"], done=False)
    events[5:5] = [{"type": "response.content_part.added", "item_id": MSG, "part": {"type": "refusal"}},
                   {"type": "response.refusal.delta", "item_id": MSG, "delta": "no"}]
    out, _ = repair(events)
    check_invariants(out)
    assert [(e["type"], e["content_index"]) for e in out if "content_index" in e][:4] == [
        ("response.content_part.added", 0), ("response.output_text.delta", 0),
        ("response.content_part.added", 1), ("response.refusal.delta", 1)]
    assert out[-1]["response"]["output"][0]["content"][1] == {"type": "refusal", "refusal": "no"}


def test_the_upstream_objects_are_left_unchanged() -> None:
    events = llamacpp_text()
    before = copy.deepcopy(events)
    repair(events, {"max_output_tokens": 12})
    assert events == before
    body = json.loads((CASES / "llamacpp_text" / "upstream.json").read_text())
    kept = copy.deepcopy(body)
    repair_response(body, {"max_output_tokens": 12}, model="m", new_id=SequentialIds(), clock=lambda: 1)
    assert body == kept


# ---- what the repair reports --------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.parent.name for p in GOLDEN.glob("*/events.sse")))
def test_a_well_formed_stream_reports_no_defect(name: str) -> None:
    case = GOLDEN / name
    request = json.loads((case / "request.json").read_text()) if (case / "request.json").exists() else {}
    machine = StreamRepair({**request, "stream": True}, model="m", new_id=SequentialIds(), clock=lambda: CLOCK)
    for event_name, data in upstream_events((case / "events.sse").read_bytes()):
        machine.feed(event_name, data)
    assert machine.done and not machine.repaired and machine.defects == []
    if (case / "response.json").exists():
        defects: list[str] = []
        repair_response(json.loads((case / "response.json").read_text()), request, model="m",
                        new_id=SequentialIds(), clock=lambda: CLOCK, defects=defects)
        assert defects == []


@pytest.mark.parametrize(("name", "expected"), [
    ("llamacpp_text", ["no sequence_number", "bare response snapshots", "no output_index", "no content_index"]),
    ("llamacpp_cut_by_max_output_tokens", ["no sequence_number", "bare response snapshots", "no output_index",
                                           "no content_index", "completed although max_output_tokens cut the answer"]),
    ("older_data_only", ["data-only frames (no event: lines)", "no sequence_number", "bare response snapshots",
                         "no output_index", "no content_index"]),
    ("llamacpp_shape_reasoning_tool_calls", ["no sequence_number", "bare response snapshots", "no output_index",
                                             "no content_index", "items without an id", "item_id rewritten"]),
])
def test_a_defective_stream_reports_what_was_mended(name: str, expected: list[str]) -> None:
    case = CASES / name
    machine = StreamRepair(request_of(case), model="m", new_id=SequentialIds(), clock=lambda: CLOCK)
    for event_name, data in upstream_events((case / "upstream.sse").read_bytes()):
        machine.feed(event_name, data)
    assert machine.repaired and machine.defects == expected
    if (case / "upstream.json").exists():
        defects: list[str] = []
        repair_response(json.loads((case / "upstream.json").read_text()), request_of(case), model="m",
                        new_id=SequentialIds(), clock=lambda: CLOCK, defects=defects)
        assert defects[0] == "a bare Response (fields a client needs are missing)"


def test_a_renumbered_or_missing_event_is_a_defect() -> None:
    events = [orjson.loads(orjson.dumps(e)) for e in sse_events((GOLDEN / "up_text_stop" / "events.sse").read_bytes())]
    lost = next(e["sequence_number"] for e in events if e["type"] == "response.output_text.delta")
    machine = StreamRepair({"input": "hi"}, model="m", new_id=SequentialIds(), clock=lambda: CLOCK)
    for event in events:
        if event["sequence_number"] != lost:  # one delta lost: the events after it are renumbered
            machine.feed(event["type"], event)
    assert machine.defects == ["sequence_number renumbered"]
    machine = StreamRepair({"input": "hi"}, model="m", new_id=SequentialIds(), clock=lambda: CLOCK)
    for event in events:
        machine.feed(event["type"], event)
    assert machine.defects == []
