"""The wire TypedDicts say what really goes over the wire.

- Every shape the bridge built in a golden case (events, Response, chat request) has exactly the type the
  translators declare: no missing key, no undeclared key, no value of another type.
- Every client request and upstream answer in the cases has the shape the types describe.
- The field names are the OpenAI SDK's (a misspelt TypedDict key would otherwise go unnoticed).
"""

from __future__ import annotations

import json
import typing
from pathlib import Path

import openai.types.responses as sdk
import pytest
from pydantic import BaseModel

from openai_bridge.wire import chat, responses

from .shapes import mismatches

CASES = Path(__file__).resolve().parents[1] / "cases"
SHAPES: dict[str, object] = {
    "events.sse": responses.ResponseStreamEvent,
    "response.json": responses.Response,
    "chat_request.json": chat.ChatRequest,
    "chunks.json": chat.ChatChunk,
    "chat_response.json": chat.ChatCompletion,
}


def _cases() -> list[str]:
    return sorted(p.name for p in CASES.iterdir() if p.is_dir())


@pytest.mark.parametrize("name", _cases())
def test_golden_files_have_the_declared_shapes(name: str) -> None:
    case = CASES / name
    for file, tp in SHAPES.items():
        if not (case / file).exists():
            continue
        if file == "events.sse":
            lines = (case / file).read_text().splitlines()
            data = [json.loads(line[6:]) for line in lines if line.startswith("data: ")]
        else:
            data = json.loads((case / file).read_text())
        for i, value in enumerate(data if file in ("events.sse", "chunks.json") else [data]):
            assert mismatches(value, tp) == [], f"{file}[{i}]"
    if (case / "request.json").exists():
        request = json.loads((case / "request.json").read_text())
        down = json.loads((case / "down.json").read_text()) if (case / "down.json").exists() else {}
        # A field the case sends on purpose as unknown (reported dropped) is not part of the request type.
        unknown = set(down.get("dropped", [])) - set(typing.get_type_hints(responses.ResponsesRequest))
        request = {k: v for k, v in request.items() if k not in unknown}
        assert mismatches(request, responses.ResponsesRequest) == []


def test_the_check_is_strict() -> None:
    part: object = {"type": "output_text", "text": "hi", "annotations": [], "logprobs": []}
    assert mismatches(part, responses.ResponseOutputText) == []
    assert mismatches({**part, "extra": 1}, responses.ResponseOutputText) != []
    assert mismatches({"type": "output_text", "text": "hi"}, responses.ResponseOutputText) != []
    assert mismatches({**part, "text": None}, responses.ResponseOutputText) != []
    assert mismatches({**part, "type": "refusal"}, responses.ResponseOutputText) != []
    assert mismatches(True, int) != [] and mismatches(1, float) == []


# Our TypedDict -> the SDK model it mirrors, and the keys we send that this SDK version does not declare.
MIRRORS: list[tuple[object, type[BaseModel], set[str]]] = [
    (responses.Response, sdk.Response, {"store", "presence_penalty", "frequency_penalty"}),
    (responses.ResponseUsage, sdk.ResponseUsage, set()),
    (responses.ResponseOutputMessage, sdk.ResponseOutputMessage, set()),
    (responses.ResponseOutputText, sdk.ResponseOutputText, set()),
    (responses.ResponseOutputRefusal, sdk.ResponseOutputRefusal, set()),
    (responses.ResponseReasoningItem, sdk.ResponseReasoningItem, set()),
    (responses.ResponseFunctionToolCall, sdk.ResponseFunctionToolCall, set()),
    (responses.ResponseCustomToolCall, sdk.ResponseCustomToolCall, {"status"}),
    (responses.ResponseCreatedEvent, sdk.ResponseCreatedEvent, set()),
    (responses.ResponseInProgressEvent, sdk.ResponseInProgressEvent, set()),
    (responses.ResponseCompletedEvent, sdk.ResponseCompletedEvent, set()),
    (responses.ResponseIncompleteEvent, sdk.ResponseIncompleteEvent, set()),
    (responses.ResponseFailedEvent, sdk.ResponseFailedEvent, set()),
    (responses.ResponseOutputItemAddedEvent, sdk.ResponseOutputItemAddedEvent, set()),
    (responses.ResponseOutputItemDoneEvent, sdk.ResponseOutputItemDoneEvent, set()),
    (responses.ResponseContentPartAddedEvent, sdk.ResponseContentPartAddedEvent, set()),
    (responses.ResponseContentPartDoneEvent, sdk.ResponseContentPartDoneEvent, set()),
    (responses.ResponseTextDeltaEvent, sdk.ResponseTextDeltaEvent, set()),
    (responses.ResponseTextDoneEvent, sdk.ResponseTextDoneEvent, set()),
    (responses.ResponseRefusalDeltaEvent, sdk.ResponseRefusalDeltaEvent, set()),
    (responses.ResponseRefusalDoneEvent, sdk.ResponseRefusalDoneEvent, set()),
    (responses.ResponseReasoningTextDeltaEvent, sdk.ResponseReasoningTextDeltaEvent, set()),
    (responses.ResponseReasoningTextDoneEvent, sdk.ResponseReasoningTextDoneEvent, set()),
    (responses.ResponseReasoningSummaryPartAddedEvent, sdk.ResponseReasoningSummaryPartAddedEvent, set()),
    (responses.ResponseReasoningSummaryPartDoneEvent, sdk.ResponseReasoningSummaryPartDoneEvent, set()),
    (responses.ResponseReasoningSummaryTextDeltaEvent, sdk.ResponseReasoningSummaryTextDeltaEvent, set()),
    (responses.ResponseReasoningSummaryTextDoneEvent, sdk.ResponseReasoningSummaryTextDoneEvent, set()),
    (responses.ResponseFunctionCallArgumentsDeltaEvent, sdk.ResponseFunctionCallArgumentsDeltaEvent, set()),
    (responses.ResponseFunctionCallArgumentsDoneEvent, sdk.ResponseFunctionCallArgumentsDoneEvent, {"name"}),
    (responses.ResponseCustomToolCallInputDeltaEvent, sdk.ResponseCustomToolCallInputDeltaEvent, set()),
    (responses.ResponseCustomToolCallInputDoneEvent, sdk.ResponseCustomToolCallInputDoneEvent, set()),
]


@pytest.mark.parametrize(("ours", "theirs", "extra"), MIRRORS, ids=[m[1].__name__ for m in MIRRORS])
def test_field_names_are_the_sdks(ours: type, theirs: type[BaseModel], extra: set[str]) -> None:
    keys = set(typing.get_type_hints(ours))
    assert keys - set(theirs.model_fields) == extra
    # And the SDK's required fields are all there.
    required = {name for name, f in theirs.model_fields.items() if f.is_required()}
    assert required <= keys


def test_every_event_type_is_in_the_union() -> None:
    members = typing.get_args(responses.ResponseStreamEvent.__value__)
    assert {m for m, _, _ in MIRRORS if typing.get_type_hints(m).get("sequence_number")} == set(members)
