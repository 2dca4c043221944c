"""Golden cases: tests/cases/<name>/ holds a request and/or an upstream answer and the spec's answer.

Files a case may have (see WIRE.md for the mapping they pin down):
- request.json        the Responses create request (up: the envelope's echo; down: what is translated)
- chat_request.json   the expected chat request (down)
- chat_response.json  a non-stream chat completion (up)
- chunks.json         the chat chunks of a streamed answer (up)
- response.json       the expected Response object (up, non-stream; else the stream's final object)
- events.json         the expected Responses events of the stream (up)
- down.json           optional extras for the down direction: {"options": {...}, "dropped": [param, ...]}

`UPDATE_GOLDEN=1 uv run pytest tests/translate/test_golden.py` (re)writes the expected files; every
rewritten file must be read and checked against WIRE.md and the SDK types before it is committed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from openai_bridge.ids import SequentialIds
from openai_bridge.translate import Options, StreamTranslator, to_chat_request, to_response

CASES = Path(__file__).resolve().parent.parent / "cases"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
CLOCK = 1700000000
DEFAULT_MODEL = "default-model"
EVENT = TypeAdapter(ResponseStreamEvent)
TERMINAL = {"response.completed", "response.incomplete", "response.failed"}

JSON = dict[str, Any]


def _case_names() -> list[str]:
    return sorted(p.name for p in CASES.iterdir() if p.is_dir())


def _load(case: Path, name: str) -> Any:
    return json.loads((case / name).read_text())


def _check(case: Path, name: str, actual: Any) -> None:
    """Compare with the expected file, or write it under UPDATE_GOLDEN=1."""
    path = case / name
    if UPDATE:
        path.write_text(json.dumps(actual, indent=2, ensure_ascii=False) + "\n")
        return
    if not path.exists():
        pytest.fail(f"{path} is missing; run with UPDATE_GOLDEN=1, then READ and check it")
    assert actual == json.loads(path.read_text())


def _request(case: Path) -> JSON:
    return _load(case, "request.json") if (case / "request.json").exists() else {"input": "hi"}


def _model(case: Path, request: JSON) -> str:
    """The `model=` of the up direction: the chat request's model."""
    if (case / "chat_request.json").exists():
        return str(_load(case, "chat_request.json")["model"])
    return str(request.get("model") or DEFAULT_MODEL)


def _stream(case: Path, request: JSON) -> list[JSON]:
    machine = StreamTranslator(request, model=_model(case, request), new_id=SequentialIds(), clock=lambda: CLOCK)
    events: list[JSON] = []
    # A JSON round trip per batch: what a client saw when the batch went out, not the live objects.
    events += json.loads(json.dumps(machine.start()))
    for chunk in _load(case, "chunks.json"):
        events += json.loads(json.dumps(machine.feed(chunk)))
    events += json.loads(json.dumps(machine.finish()))
    return events


def _no_null_status(obj: Any, where: str = "") -> None:
    """Peers' fault: `status: null`."""
    if isinstance(obj, dict):
        assert obj.get("status", "") is not None, f"status: null at {where or 'top'}"
        for k, v in obj.items():
            _no_null_status(v, f"{where}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _no_null_status(v, f"{where}[{i}]")


def _check_response(response: JSON) -> None:
    Response.model_validate(response)
    _no_null_status(response)
    usage = response["usage"]
    if usage is not None:  # peers' fault: usage with chat names
        assert not {"prompt_tokens", "completion_tokens"} & set(usage)
        assert isinstance(usage["input_tokens_details"], dict)
        assert isinstance(usage["output_tokens_details"], dict)


def _check_invariants(events: list[JSON]) -> None:
    for event in events:
        EVENT.validate_python(event)
        _no_null_status(event)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert [e["type"] for e in events][:2] == ["response.created", "response.in_progress"]
    terminals = [i for i, e in enumerate(events) if e["type"] in TERMINAL]
    assert terminals == [len(events) - 1], "exactly one terminal event, and it is the last"
    final = events[-1]["response"]
    _check_response(final)

    open_items: dict[str, int] = {}  # item id -> output_index
    done: set[str] = set()
    order: list[str] = []
    texts: dict[tuple[str, str, int], list[str]] = {}
    done_texts: dict[tuple[str, str, int], str] = {}
    for e in events:
        kind = e["type"]
        if kind == "response.output_item.added":
            item = e["item"]
            assert item["id"] not in open_items and item["id"] not in done
            assert e["output_index"] == len(order), "output_index 0..n-1 in order of first appearance"
            order.append(item["id"])
            open_items[item["id"]] = e["output_index"]
        elif kind == "response.output_item.done":
            item_id = e["item"]["id"]
            assert open_items.pop(item_id) == e["output_index"]
            done.add(item_id)
        elif "item_id" in e:
            assert e["item_id"] in open_items, f"{kind} names an item that is not open"
            assert open_items[e["item_id"]] == e["output_index"]
            family = kind.rsplit(".", 1)[0]
            key = (family, e["item_id"], e.get("content_index", e.get("summary_index", 0)))
            if kind.endswith(".delta"):
                texts.setdefault(key, []).append(e["delta"])
            elif kind.endswith(".done") and family not in ("response.content_part", "response.reasoning_summary_part"):
                value = next(e[k] for k in ("text", "refusal", "arguments", "input") if k in e)
                done_texts[key] = value
                assert "".join(texts.get(key, [])) == value, f"joined deltas != {kind}"
    assert not open_items, "every added item is done by the end"
    assert [item["id"] for item in final["output"]] == order

    # The .done texts are the final object's texts.
    by_id = {item["id"]: item for item in final["output"]}
    for (family, item_id, index), value in done_texts.items():
        item = by_id[item_id]
        if family in ("response.reasoning_text", "response.output_text"):
            assert item["content"][index]["text"] == value
        elif family == "response.reasoning_summary_text":
            assert item["summary"][index]["text"] == value
        elif family == "response.refusal":
            assert item["content"][index]["refusal"] == value
        elif family == "response.function_call_arguments":
            assert item["arguments"] == value
        elif family == "response.custom_tool_call_input":
            assert item["input"] == value


def _without_ids_and_times(response: JSON) -> JSON:
    return {k: v for k, v in response.items() if k not in ("id", "created_at", "completed_at")}


@pytest.mark.parametrize("name", _case_names())
def test_golden(name: str) -> None:
    case = CASES / name
    has = {p.name for p in case.iterdir()}
    assert has & {"chat_request.json", "chat_response.json", "chunks.json"}, "a case tests something"
    request = _request(case)

    if "chat_request.json" in has:
        extra = _load(case, "down.json") if "down.json" in has else {}
        down = to_chat_request(request, default_model=DEFAULT_MODEL, options=Options(**extra.get("options", {})))
        _check(case, "chat_request.json", down.chat)
        if "dropped" in extra:
            assert [d.param for d in down.dropped] == extra["dropped"]

    final_nonstream = None
    if "chat_response.json" in has:
        final_nonstream = to_response(
            _load(case, "chat_response.json"), request=request, model=_model(case, request),
            new_id=SequentialIds(), clock=lambda: CLOCK,
        )
        final_nonstream = json.loads(json.dumps(final_nonstream))
        _check_response(final_nonstream)
        _check(case, "response.json", final_nonstream)

    if "chunks.json" in has:
        events = _stream(case, request)
        _check_invariants(events)
        _check(case, "events.json", events)
        final = events[-1]["response"]
        if final_nonstream is not None:
            assert _without_ids_and_times(final) == _without_ids_and_times(final_nonstream)
        else:
            _check(case, "response.json", final)


def test_expected_files_are_valid() -> None:
    """Every committed response.json and event validates against the SDK, whatever the code does."""
    for name in _case_names():
        case = CASES / name
        if (case / "response.json").exists():
            _check_response(_load(case, "response.json"))
        if (case / "events.json").exists():
            _check_invariants(_load(case, "events.json"))
