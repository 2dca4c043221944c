"""Golden cases of the native stream repair: what a real llama.cpp server sent (tests/cases_native/, see its
README), and the exact bytes the bridge must send for it.

The upstream's bytes are decoded as the upstream layer decodes them (`SSEDecoder`, `named_event`; `[DONE]`
ends the stream), fed to `StreamRepair` with repeatable ids and a fixed clock, and framed with `frame`.
`events.sse` is compared byte for byte, `response.json` (the non-stream answer repaired) as bytes after
re-encoding; `UPDATE_GOLDEN=1` rewrites both, and every rewritten file must be read before it is committed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from openai_bridge.ids import SequentialIds
from openai_bridge.translate import StreamRepair, repair_response
from openai_bridge.upstream.errors import named_event
from openai_bridge.wire.sse import SSEDecoder, frame
from tests.test_golden import check_bytes, check_invariants, check_json, check_response, sse_events

CASES = Path(__file__).resolve().parents[1] / "cases_native"
CLOCK = 1700000000
DEFAULT_MODEL = "default-model"


def case_names() -> list[str]:
    return sorted(p.name for p in CASES.iterdir() if p.is_dir())


def request_of(case: Path) -> dict[str, Any]:
    return json.loads((case / "request.json").read_text())


def upstream_events(blob: bytes, splits: list[int] | None = None) -> list[tuple[str | None, dict[str, Any]]]:
    """The upstream's stream as the upstream layer hands it over; `splits`: where the network cut the bytes."""
    decoder = SSEDecoder()
    cuts = [0, *sorted(splits or []), len(blob)]
    decoded = [e for a, b in zip(cuts, cuts[1:], strict=False) for e in decoder.feed(blob[a:b])] + decoder.close()
    events = []
    for raw in decoded:
        event = named_event(raw)
        if event is None:  # [DONE]
            break
        events.append(event)
    return events


def repaired_stream(request: dict[str, Any], events: list[tuple[str | None, dict[str, Any]]]) -> bytes:
    machine = StreamRepair(request, model=request.get("model", DEFAULT_MODEL), new_id=SequentialIds(),
                           clock=lambda: CLOCK)
    out = []
    for name, data in events:
        out += machine.feed(name, data)
    out += machine.finish()
    return b"".join(frame(e) for e in out)


def repaired_response(request: dict[str, Any], body: bytes) -> dict[str, Any]:
    return dict(repair_response(orjson.loads(body), request, model=request.get("model", DEFAULT_MODEL),
                                new_id=SequentialIds(), clock=lambda: CLOCK))


def comparable(response: dict[str, Any]) -> dict[str, Any]:
    """What a stream and a non-stream answer to the same request share: not ids, times or the prompt cache's
    token counts (they change between two requests), but the output and how it ended."""
    output = [{k: v for k, v in item.items() if k != "id"} for item in response["output"]]
    return {"status": response["status"], "incomplete_details": response["incomplete_details"], "output": output,
            "output_tokens": response["usage"]["output_tokens"]}


@pytest.mark.parametrize("name", case_names())
def test_native_golden(name: str) -> None:
    case = CASES / name
    request = request_of(case)
    blob = repaired_stream(request, upstream_events((case / "upstream.sse").read_bytes()))
    check_bytes(case, "events.sse", blob)
    events = sse_events(blob)
    check_invariants(events)
    if (case / "upstream.json").exists():
        response = repaired_response(request, (case / "upstream.json").read_bytes())
        check_response(response)
        check_json(case, "response.json", orjson.dumps(response))
        assert comparable(events[-1]["response"]) == comparable(response)


@pytest.mark.parametrize("name", case_names())
def test_network_splits_do_not_matter(name: str) -> None:
    blob = (CASES / name / "upstream.sse").read_bytes()
    request = request_of(CASES / name)
    whole = repaired_stream(request, upstream_events(blob))
    assert repaired_stream(request, upstream_events(blob, list(range(1, len(blob), 7)))) == whole
    assert repaired_stream(request, upstream_events(blob, list(range(1, len(blob))))) == whole


def test_the_expected_files_are_valid() -> None:
    """Every committed expected file passes the checks, whatever the code does."""
    for name in case_names():
        case = CASES / name
        check_invariants(sse_events((case / "events.sse").read_bytes()))
        if (case / "response.json").exists():
            check_response(json.loads((case / "response.json").read_text()))
