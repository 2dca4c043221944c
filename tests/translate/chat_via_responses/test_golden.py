"""Golden cases of the reverse direction: a chat client in front of a Responses upstream, byte for byte.

There is no route for it yet, so the cases run the pure translators as a route will: the chat request
down (`to_responses_request`), the upstream's Response up (`to_chat_completion`), and the upstream's event
stream up (`ChatStreamTranslator`, each chunk framed by `wire.sse.data_frame`, an upstream failure as an
in-stream error object, then `data: [DONE]`). Ids are sequential and the clock is fixed.

Each case is a folder in tests/cases_reverse/ (its README.md says where each upstream answer came from):

- request.json              the chat completions request (input)
- responses_request.json    the Responses request the bridge must send upstream
- dropped.json              the fields reported as not honoured, when there are any
- upstream_response.json    optional: the upstream's non-stream Response (input) ...
- completion.json           ... and the chat completion the bridge must answer, or
- error.json                ... the error it must answer with (`status`, `body`), for a failed Response
- upstream_events.sse       optional: the upstream's event stream, as it was sent (input) ...
- chunks.sse                ... and the exact bytes of the chat stream the bridge must write

JSON is compared as bytes after re-encoding the expected file the way the bridge encodes (orjson, compact):
key order and `1` against `1.0` count. `UPDATE_GOLDEN=1 uv run pytest tests/translate/chat_via_responses`
rewrites the expected files; read every rewritten file and check it against WIRE.md before committing it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import orjson
import pytest
from openai.types.responses.response_create_params import ResponseCreateParamsStreaming
from pydantic import TypeAdapter

from openai_bridge.errors import BridgeError
from openai_bridge.ids import SequentialIds
from openai_bridge.translate import ChatStreamTranslator, to_chat_completion, to_responses_request
from openai_bridge.wire.responses import ResponsesRequest
from openai_bridge.wire.sse import DONE_FRAME, SSEDecoder, data_frame
from tests.translate.chat_via_responses.joined import check_chunks, comparable, joined
from tests.wire.shapes import mismatches

CASES = Path(__file__).resolve().parents[2] / "cases_reverse"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
CLOCK = 1764403200
SDK_REQUEST = TypeAdapter(ResponseCreateParamsStreaming)


def _case_names() -> list[str]:
    return sorted(p.name for p in CASES.iterdir() if p.is_dir())


def _load(case: Path, name: str) -> Any:
    return json.loads((case / name).read_text())


def check_json(case: Path, name: str, actual: bytes) -> None:
    path = case / name
    if UPDATE:
        path.write_bytes(orjson.dumps(orjson.loads(actual), option=orjson.OPT_INDENT_2) + b"\n")
        return
    if not path.exists():
        pytest.fail(f"{path} is missing; run with UPDATE_GOLDEN=1, then READ and check it")
    assert actual == orjson.dumps(orjson.loads(path.read_bytes())), f"{name} differs (as bytes)"


def check_bytes(case: Path, name: str, actual: bytes) -> None:
    path = case / name
    if UPDATE:
        path.write_bytes(actual)
        return
    if not path.exists():
        pytest.fail(f"{path} is missing; run with UPDATE_GOLDEN=1, then READ and check it")
    assert actual == path.read_bytes(), f"{name} differs"


def upstream_events(blob: bytes) -> list[dict[str, Any]]:
    decoder = SSEDecoder()
    return [orjson.loads(data) for _, data in decoder.feed(blob) + decoder.close() if data != b"[DONE]"]


def chat_stream(events: list[dict[str, Any]], *, model: str, include_usage: bool) -> bytes:
    """The bytes a chat route writes for the upstream's events."""
    machine = ChatStreamTranslator(model=model, new_id=SequentialIds(), clock=lambda: CLOCK,
                                   include_usage=include_usage)
    frames = []
    try:
        for event in events:
            frames += [data_frame(chunk) for chunk in machine.feed(event)]
        frames += [data_frame(chunk) for chunk in machine.finish()]
    except BridgeError as error:
        frames.append(data_frame(error.body()))
    return b"".join(frames) + DONE_FRAME


def stream_payloads(blob: bytes) -> list[dict[str, Any]]:
    """The JSON payloads of a chat stream, checking its framing: `data:` lines only, `[DONE]` last."""
    frames = blob.split(b"\n\n")
    assert frames[-2:] == [b"data: [DONE]", b""], "the stream ends with data: [DONE]"
    assert all(f.startswith(b"data: ") and b"\n" not in f for f in frames[:-2])
    return [orjson.loads(f.removeprefix(b"data: ")) for f in frames[:-2]]


@pytest.mark.parametrize("name", _case_names())
def test_golden(name: str) -> None:
    case = CASES / name
    has = {p.name for p in case.iterdir()}
    request = _load(case, "request.json")

    down = to_responses_request(request)
    sent = orjson.dumps(down.request)
    check_json(case, "responses_request.json", sent)
    assert mismatches(down.request, ResponsesRequest) == []
    if b'"input_audio"' not in sent:  # the SDK has no audio input in Responses yet; WIRE.md maps it all the same
        SDK_REQUEST.validate_python({**down.request, "stream": True})
    dropped = [d.param for d in down.dropped]
    if dropped or "dropped.json" in has:
        check_json(case, "dropped.json", orjson.dumps(dropped))

    model = request["model"]
    non_stream = None
    if "upstream_response.json" in has:
        try:
            completion = to_chat_completion(_load(case, "upstream_response.json"), model=model,
                                            new_id=SequentialIds(), clock=lambda: CLOCK)
        except BridgeError as error:
            check_json(case, "error.json", orjson.dumps({"status": error.status, "body": error.body()}))
        else:
            check_json(case, "completion.json", orjson.dumps(completion))
            non_stream = comparable(orjson.loads(orjson.dumps(completion)))

    if "upstream_events.sse" in has:
        events = upstream_events((case / "upstream_events.sse").read_bytes())
        blob = chat_stream(events, model=model, include_usage=down.include_usage)
        check_bytes(case, "chunks.sse", blob)
        payloads = stream_payloads(blob)
        if "error" in payloads[-1]:
            assert set(payloads[-1]) == {"error"} and payloads[-1]["error"]["message"]
            return
        check_chunks(payloads, include_usage=down.include_usage)
        if non_stream is not None:
            streamed = joined(payloads)
            if not down.include_usage:
                non_stream.pop("usage")
                streamed.pop("usage")
            assert streamed == non_stream, "the joined stream is the non-stream completion"


def test_expected_files_are_valid() -> None:
    """Every committed expected file validates, whatever the code does."""
    for name in _case_names():
        case = CASES / name
        assert mismatches(_load(case, "responses_request.json"), ResponsesRequest) == []
        if (case / "completion.json").exists():
            comparable(_load(case, "completion.json"))
        if (case / "chunks.sse").exists():
            payloads = stream_payloads((case / "chunks.sse").read_bytes())
            if "error" not in payloads[-1]:
                include_usage = bool(_load(case, "request.json").get("stream_options", {}).get("include_usage"))
                check_chunks(payloads, include_usage=include_usage)
