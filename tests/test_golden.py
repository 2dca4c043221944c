"""Golden cases: what the bridge really produces for a request and an upstream answer, byte for byte.

Each case is a folder in tests/cases/. The request goes through the whole app (routes, service, run,
sinks, serialisation) with a `FakeUpstream` answering, repeatable ids and a fixed clock; no sockets.

- request.json        the Responses create request (default: `{"input": "hi"}`)
- down.json           optional: {"options": {...}, "dropped": [param, ...]} (the translation settings, and the
                      fields the translator reports it could not honour)
- chat_request.json   the chat request the bridge must send upstream (down)
- chat_response.json  a non-stream chat completion the upstream answers (up) ...
- response.json       ... and the response body the bridge must answer (for a stream: its final object)
- chunks.json         the chat chunks of a streamed answer (up) ...
- events.sse          ... and the exact bytes of the event stream the bridge must write

`events.sse` is compared byte for byte. JSON files are compared as bytes too, after re-encoding the expected
file the way the bridge encodes (orjson, compact): key order, `true` against `1`, `1.0` against `1` all count;
only the file's indentation does not. `UPDATE_GOLDEN=1 uv run pytest tests/test_golden.py` rewrites the
expected files; every rewritten file must be read and checked against WIRE.md and the SDK types before it is
committed.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from openai_bridge.ids import SequentialIds
from openai_bridge.server.app import create_app
from openai_bridge.settings import Settings
from openai_bridge.testing import FakeUpstream, Json, sse
from openai_bridge.translate import Options, to_chat_request
from tests.support import conformance

CASES = Path(__file__).resolve().parent / "cases"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
CLOCK = 1700000000
DEFAULT_MODEL = "default-model"
EVENT = TypeAdapter(ResponseStreamEvent)
TERMINAL = {"response.completed", "response.incomplete", "response.failed"}


def _case_names() -> list[str]:
    return sorted(p.name for p in CASES.iterdir() if p.is_dir())


def _load(case: Path, name: str) -> Any:
    return json.loads((case / name).read_text())


def canonical(path: Path) -> bytes:
    """The expected JSON file, encoded as the bridge encodes its answers."""
    return orjson.dumps(orjson.loads(path.read_bytes()))


def check_json(case: Path, name: str, actual: bytes) -> None:
    path = case / name
    if UPDATE:
        path.write_bytes(orjson.dumps(orjson.loads(actual), option=orjson.OPT_INDENT_2) + b"\n")
        return
    if not path.exists():
        pytest.fail(f"{path} is missing; run with UPDATE_GOLDEN=1, then READ and check it")
    assert actual == canonical(path), f"{name} differs (as bytes)"


def check_bytes(case: Path, name: str, actual: bytes) -> None:
    path = case / name
    if UPDATE:
        path.write_bytes(actual)
        return
    if not path.exists():
        pytest.fail(f"{path} is missing; run with UPDATE_GOLDEN=1, then READ and check it")
    assert actual == path.read_bytes(), f"{name} differs"


def bridge_answer(case: Path, body: dict[str, Any], reply: Any) -> tuple[bytes, FakeUpstream]:
    """Post `body` to a fresh app (fresh ids) whose upstream answers `reply`; the answer's body bytes."""
    extra = _load(case, "down.json") if (case / "down.json").exists() else {}
    settings = Settings(default_model=DEFAULT_MODEL, store="memory", translate=Options(**extra.get("options", {})),
                        reasoning_key="test-reasoning-key", keepalive=30)
    upstream = FakeUpstream(reply)
    app = create_app(settings, upstream=upstream, new_id=SequentialIds(), clock=lambda: CLOCK)

    async def post() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bridge") as client:
            return await client.post("/v1/responses", content=orjson.dumps(body))

    answer = asyncio.run(post())
    assert answer.status_code == 200, answer.text
    return answer.content, upstream


def sse_events(blob: bytes) -> list[dict[str, Any]]:
    """The events of a framed stream, checking the framing: `event: <type>` + one `data:` line each."""
    assert blob.endswith(b"\n\n")
    events = []
    for frame in blob[:-2].split(b"\n\n"):
        name, data = frame.split(b"\n")
        event = orjson.loads(data.removeprefix(b"data: "))
        assert name == b"event: " + event["type"].encode()
        events.append(event)
    return events


def no_null_status(obj: Any, where: str = "") -> None:
    """Peers' fault: `status: null`."""
    if isinstance(obj, dict):
        assert obj.get("status", "") is not None, f"status: null at {where or 'top'}"
        for k, v in obj.items():
            no_null_status(v, f"{where}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            no_null_status(v, f"{where}[{i}]")


def check_response(response: dict[str, Any]) -> None:
    Response.model_validate(response)
    assert conformance.response_problems(response) == []
    no_null_status(response)
    usage = response["usage"]
    if usage is not None:  # peers' fault: usage with chat names
        assert not {"prompt_tokens", "completion_tokens"} & set(usage)
        assert isinstance(usage["input_tokens_details"], dict)
        assert isinstance(usage["output_tokens_details"], dict)


def check_invariants(events: list[dict[str, Any]]) -> None:
    """WIRE.md's stream grammar."""
    for event in events:
        EVENT.validate_python(event)
        assert conformance.event_problems(event) == []
        no_null_status(event)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert [e["type"] for e in events][:2] == ["response.created", "response.in_progress"]
    terminals = [i for i, e in enumerate(events) if e["type"] in TERMINAL]
    assert terminals == [len(events) - 1], "exactly one terminal event, and it is the last"
    final = events[-1]["response"]
    check_response(final)

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


def without_ids_and_times(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k not in ("id", "created_at", "completed_at")}


@pytest.mark.parametrize("name", _case_names())
def test_golden(name: str) -> None:
    case = CASES / name
    has = {p.name for p in case.iterdir()}
    assert has & {"chat_request.json", "chat_response.json", "chunks.json"}, "a case tests something"
    request = _load(case, "request.json") if "request.json" in has else {"input": "hi"}

    if "chat_request.json" in has:
        _, upstream = bridge_answer(case, request, None)
        # In auto mode (the default) the first call tries /responses, which the fake answers 404 as a chat-only
        # server does; the same request then goes through chat, byte for byte as in chat mode.
        assert upstream.calls[0][0].startswith("responses")
        method, sent = upstream.calls[1]
        assert method == ("chat_stream" if request.get("stream") else "chat")
        check_json(case, "chat_request.json", orjson.dumps(sent))
        extra = _load(case, "down.json") if "down.json" in has else {}
        if "dropped" in extra:
            down = to_chat_request(request, default_model=DEFAULT_MODEL, options=Options(**extra.get("options", {})))
            assert [d.param for d in down.dropped] == extra["dropped"]

    final_nonstream = None
    if "chat_response.json" in has:
        body, _ = bridge_answer(case, {**request, "stream": False}, Json(_load(case, "chat_response.json")))
        final_nonstream = orjson.loads(body)
        check_response(final_nonstream)
        check_json(case, "response.json", body)

    if "chunks.json" in has:
        blob, _ = bridge_answer(case, {**request, "stream": True}, sse(_load(case, "chunks.json")))
        check_bytes(case, "events.sse", blob)
        events = sse_events(blob)
        check_invariants(events)
        final = events[-1]["response"]
        if final_nonstream is not None:
            assert without_ids_and_times(final) == without_ids_and_times(final_nonstream)
        else:
            check_json(case, "response.json", orjson.dumps(final))


def test_expected_files_are_valid() -> None:
    """Every committed response.json and event stream validates against the SDK, whatever the code does."""
    for name in _case_names():
        case = CASES / name
        if (case / "response.json").exists():
            check_response(_load(case, "response.json"))
        if (case / "events.sse").exists():
            check_invariants(sse_events((case / "events.sse").read_bytes()))


def test_the_comparison_tells_types_apart(tmp_path: Path) -> None:
    """`"parallel_tool_calls": 1` in an expected file must not pass for `true`, nor `1` for `1.0`."""
    expected = tmp_path / "response.json"
    expected.write_text('{\n  "parallel_tool_calls": 1,\n  "temperature": 1\n}\n')
    with pytest.raises(AssertionError):
        check_json(tmp_path, "response.json", b'{"parallel_tool_calls":true,"temperature":1}')
    with pytest.raises(AssertionError):
        check_json(tmp_path, "response.json", b'{"parallel_tool_calls":1,"temperature":1.0}')
    with pytest.raises(AssertionError):  # key order is part of what the bridge produces
        check_json(tmp_path, "response.json", b'{"temperature":1,"parallel_tool_calls":1}')
    check_json(tmp_path, "response.json", b'{"parallel_tool_calls":1,"temperature":1}')
