"""The bench upstream's `/v1/responses` answers (bench/upstream.py) are well formed: each event and the Response
conform to OpenAI's reference, and the native repair passes them through unchanged, so the bridge-native cells
of the benchmark measure the pass-through itself, with no repair work in them. Read from the pre-encoded
bytes the upstream writes; no server is started."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson

from openai_bridge.translate import StreamRepair, repair_response
from tests.support.conformance import event_problems, response_problems

BENCH = Path(__file__).resolve().parent.parent / "bench"
REQUEST = {"model": "bench-model", "input": "Write a one-line greeting.", "stream": True}


def load_upstream() -> ModuleType:
    sys.path.insert(0, str(BENCH))  # for its `from http1 import framing`
    try:
        spec = importlib.util.spec_from_file_location("bench_upstream", BENCH / "upstream.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


def http_body(up: ModuleType, raw: bytes) -> bytes:
    head, _, rest = raw.partition(b"\r\n\r\n")
    if b"Transfer-Encoding: chunked" not in head:
        return rest
    parsed = up._dechunk(bytearray(rest), 0)
    assert parsed is not None and parsed[1] == len(rest), "the HTTP chunks do not add up"
    return bytes(parsed[0])


def sse_events(body: bytes) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in body.decode().split("\n\n"):
        if block:
            name, data = block.split("\n")
            out.append((name.removeprefix("event: "), orjson.loads(data.removeprefix("data: "))))
    return out


def ids(prefix: str) -> str:
    return f"{prefix}_fresh"


def test_stream_is_well_formed_and_passes_the_repair_unchanged() -> None:
    up = load_upstream()
    script = up.Script("bench-model", 50)
    events = sse_events(http_body(up, up._fill(script.responses_all, 7)))

    assert len(events) == 58  # created, in_progress, item + part added, 50 deltas, 3 .done, completed
    assert [data["sequence_number"] for _, data in events] == list(range(58))
    assert all(name == data["type"] for name, data in events)
    assert [p for _, data in events for p in event_problems(data)] == []
    completed = events[-1][1]["response"]
    assert response_problems(completed) == []
    assert completed["id"] == f"resp_{7:024x}" and completed["usage"]["output_tokens"] == 50
    text = "".join(data["delta"] for _, data in events if data["type"] == "response.output_text.delta")
    assert completed["output"][0]["content"][0]["text"] == text
    chat_text = orjson.loads(http_body(up, script.completion))["choices"][0]["message"]["content"]
    assert text == chat_text  # the same answer on both APIs

    repair = StreamRepair(REQUEST, model="bench-model", new_id=ids, clock=lambda: 1)
    repaired = [e for name, data in events for e in repair.feed(name, data)]
    assert repaired == [data for _, data in events]
    assert repair.done and repair.dropped == []


def test_every_answer_has_its_own_ids() -> None:
    up = load_upstream()
    script = up.Script("bench-model", 3)
    first, second = (http_body(up, up._fill(script.responses_all, n)) for n in (1, 2))
    assert first != second and first.replace(b"0001", b"0002") == second


def test_response_object_is_well_formed_and_passes_the_repair_unchanged() -> None:
    up = load_upstream()
    script = up.Script("bench-model", 50)
    response = orjson.loads(http_body(up, up._fill(script.responses_object, 3)))
    assert response_problems(response) == []
    assert response["status"] == "completed" and response["id"] == f"resp_{3:024x}"
    request = {**REQUEST, "stream": False}
    assert repair_response(response, request, model="bench-model", new_id=ids, clock=lambda: 1) == response


def test_delayed_stream_pieces_carry_the_same_ids() -> None:
    """With --ttft-ms/--delta-ms the stream goes out piece by piece: the same bytes as the one-write stream."""
    up = load_upstream()
    script = up.Script("bench-model", 4)
    pieces = script.responses_with_ids(5)
    assert up.SSE_HEAD + pieces.first + b"".join(pieces.deltas) + pieces.tail == up._fill(script.responses_all, 5)
