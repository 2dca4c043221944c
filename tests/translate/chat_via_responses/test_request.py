"""The chat request -> Responses request translation: malformed values are refused naming their `param`
(400), fields the Responses API cannot honour are reported (or refused in strict mode), and the mapping
decisions of WIRE.md ("The reverse direction") hold, each checked against the SDK's request type."""

from __future__ import annotations

from typing import Any

import pytest
from openai.types.responses.response_create_params import ResponseCreateParamsNonStreaming
from pydantic import TypeAdapter

from openai_bridge.errors import InvalidRequest
from openai_bridge.translate import to_responses_request
from openai_bridge.wire.responses import ResponsesRequest
from tests.wire.shapes import mismatches

SDK_REQUEST = TypeAdapter(ResponseCreateParamsNonStreaming)
USER = {"role": "user", "content": "hi"}
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}


def down(**chat: Any) -> dict[str, Any]:
    result = to_responses_request({"model": "m", "messages": [USER], **chat})
    request = dict(result.request)
    assert mismatches(request, ResponsesRequest) == []
    SDK_REQUEST.validate_python(request)
    return request


BAD: list[tuple[str, dict[str, Any], str]] = [
    ("model missing, no default", {"messages": [USER]}, "model"),
    ("model not a string", {"model": 5, "messages": [USER]}, "model"),
    ("messages missing", {"model": "m"}, "messages"),
    ("messages empty", {"model": "m", "messages": []}, "messages"),
    ("message not an object", {"model": "m", "messages": ["hi"]}, "messages[0]"),
    ("unknown role", {"model": "m", "messages": [USER, {"role": "robot", "content": "x"}]}, "messages[1].role"),
    ("legacy function message", {"model": "m", "messages": [{"role": "function", "name": "f", "content": "1"}]},
     "messages[0].role"),
    ("legacy functions", {"model": "m", "messages": [USER], "functions": [{"name": "f"}]}, "functions"),
    ("legacy function_call", {"model": "m", "messages": [USER], "function_call": "auto"}, "function_call"),
    ("assistant legacy function_call",
     {"model": "m", "messages": [{"role": "assistant", "function_call": {"name": "f", "arguments": "{}"}}]},
     "messages[0].function_call"),
    ("user content a number", {"model": "m", "messages": [{"role": "user", "content": 3}]}, "messages[0].content"),
    ("unknown part", {"model": "m", "messages": [{"role": "user", "content": [{"type": "video"}]}]},
     "messages[0].content[0].type"),
    ("text part without text", {"model": "m", "messages": [{"role": "user", "content": [{"type": "text"}]}]},
     "messages[0].content[0].text"),
    ("image without url",
     {"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
     "messages[0].content[0].image_url.url"),
    ("image with a bad detail", {"model": "m", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "ultra"}}]}]},
     "messages[0].content[0].image_url.detail"),
    ("audio in another format", {"model": "m", "messages": [{"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": "AA==", "format": "flac"}}]}]},
     "messages[0].content[0].input_audio.format"),
    ("file without data or id", {"model": "m", "messages": [{"role": "user", "content": [
        {"type": "file", "file": {"filename": "a.pdf"}}]}]}, "messages[0].content[0].file"),
    ("image in an assistant message", {"model": "m", "messages": [{"role": "assistant", "content": [
        {"type": "image_url", "image_url": {"url": "u"}}]}]}, "messages[0].content[0].type"),
    ("assistant with nothing", {"model": "m", "messages": [{"role": "assistant"}]}, "messages[0].content"),
    ("tool call name not a string", {"model": "m", "messages": [USER, {"role": "user", "content": "x"}, {
        "role": "assistant", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": 5, "arguments": ""}}]}]},
     "messages[2].tool_calls[0].function.name"),
    ("tool call without id", {"model": "m", "messages": [{"role": "assistant", "tool_calls": [
        {"type": "function", "function": {"name": "f", "arguments": "{}"}}]}]}, "messages[0].tool_calls[0].id"),
    ("tool call of an unknown type", {"model": "m", "messages": [{"role": "assistant", "tool_calls": [
        {"id": "c1", "type": "magic"}]}]}, "messages[0].tool_calls[0].type"),
    ("tool message without tool_call_id", {"model": "m", "messages": [{"role": "tool", "content": "1"}]},
     "messages[0].tool_call_id"),
    ("reasoning_content not a string",
     {"model": "m", "messages": [{"role": "assistant", "content": "x", "reasoning_content": 1}]},
     "messages[0].reasoning_content"),
    ("tools not an array", {"model": "m", "messages": [USER], "tools": {}}, "tools"),
    ("tool of an unknown type", {"model": "m", "messages": [USER], "tools": [{"type": "retrieval"}]}, "tools[0].type"),
    ("function tool without name", {"model": "m", "messages": [USER], "tools": [{"type": "function", "function": {}}]},
     "tools[0].function.name"),
    ("function parameters not an object", {"model": "m", "messages": [USER], "tools": [
        {"type": "function", "function": {"name": "f", "parameters": "x"}}]}, "tools[0].function.parameters"),
    ("bad tool_choice", {"model": "m", "messages": [USER], "tool_choice": "sometimes"}, "tool_choice"),
    ("tool_choice function without name", {"model": "m", "messages": [USER], "tool_choice": {
        "type": "function", "function": {}}}, "tool_choice.function.name"),
    ("allowed_tools with a bad mode", {"model": "m", "messages": [USER], "tool_choice": {
        "type": "allowed_tools", "allowed_tools": {"mode": "never", "tools": []}}}, "tool_choice.allowed_tools.mode"),
    ("bad response_format", {"model": "m", "messages": [USER], "response_format": {"type": "xml"}},
     "response_format.type"),
    ("json_schema without schema", {"model": "m", "messages": [USER], "response_format": {
        "type": "json_schema", "json_schema": {"name": "x"}}}, "response_format.json_schema.schema"),
    ("max_tokens zero", {"model": "m", "messages": [USER], "max_tokens": 0}, "max_tokens"),
    ("max_completion_tokens a string", {"model": "m", "messages": [USER], "max_completion_tokens": "9"},
     "max_completion_tokens"),
    ("temperature a string", {"model": "m", "messages": [USER], "temperature": "hot"}, "temperature"),
    ("top_logprobs out of range", {"model": "m", "messages": [USER], "top_logprobs": 21}, "top_logprobs"),
    ("metadata values not strings", {"model": "m", "messages": [USER], "metadata": {"a": 1}}, "metadata"),
    ("stream not a boolean", {"model": "m", "messages": [USER], "stream": "yes"}, "stream"),
    ("include_usage not a boolean", {"model": "m", "messages": [USER], "stream_options": {"include_usage": 1}},
     "stream_options.include_usage"),
    ("store not a boolean", {"model": "m", "messages": [USER], "store": "no"}, "store"),
]


@pytest.mark.parametrize(("chat", "param"), [(b, p) for _, b, p in BAD], ids=[n for n, _, _ in BAD])
def test_bad_request_names_the_param(chat: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        to_responses_request(chat)
    assert info.value.param == param
    assert info.value.status == 400
    body = info.value.body()["error"]
    assert body["type"] == "invalid_request_error" and body["param"] == param and body["message"]


def test_unhonoured_fields_are_reported_and_refused_in_strict_mode() -> None:
    chat = {"model": "m", "messages": [USER], "n": 3, "stop": "END", "logit_bias": {"1": 5}, "seed": 1,
            "presence_penalty": 1.0, "modalities": ["text", "audio"], "audio": {"voice": "alloy", "format": "mp3"},
            "tools": [{"type": "custom", "custom": {"name": "patch"}}], "bogus": 1}
    dropped = [d.param for d in to_responses_request(chat).dropped]
    assert dropped == ["tools[0]", "n", "stop", "seed", "logit_bias", "presence_penalty", "audio", "modalities",
                       "bogus"]
    with pytest.raises(InvalidRequest) as info:
        to_responses_request(chat, strict=True)
    assert info.value.param == "tools[0]" and info.value.code == "unsupported_parameter"


def test_values_that_change_nothing_are_not_reported() -> None:
    chat = {"model": "m", "messages": [USER], "n": 1, "stop": None, "presence_penalty": 0, "frequency_penalty": 0,
            "logprobs": False, "modalities": ["text"], "logit_bias": {}}
    assert to_responses_request(chat, strict=True).dropped == []


def test_the_default_model_and_the_defaults_that_differ() -> None:
    result = to_responses_request({"messages": [USER], "tools": [TOOL]}, default_model="dm")
    assert result.request["model"] == "dm"
    assert result.request["store"] is False  # Responses would keep it; a chat request is not kept unless asked
    assert result.request["tools"] == [{"type": "function", "name": "f", "parameters": {"type": "object",
                                                                                        "properties": {}},
                                        "strict": False}]  # Responses would make it strict
    assert down(store=True)["store"] is True


def test_system_and_developer_messages_stay_input_messages_in_place() -> None:
    messages = [{"role": "system", "content": "a"}, {"role": "developer", "content": [{"type": "text", "text": "b"}]},
                USER, {"role": "system", "content": "c"}]
    request = down(messages=messages)
    assert "instructions" not in request
    assert request["input"] == [
        {"type": "message", "role": "system", "content": "a"},
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "b"}]},
        {"type": "message", "role": "user", "content": "hi"},
        {"type": "message", "role": "system", "content": "c"},
    ]


def test_an_assistant_turn_becomes_reasoning_message_and_calls_in_that_order() -> None:
    messages = [USER, {"role": "assistant", "content": "Let me look.", "reasoning": "They want f.", "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
        {"id": "call_2", "type": "function", "function": {"name": "g", "arguments": "{\"a\":1}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "one"},
        {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "two"}]}]
    assert down(messages=messages)["input"][1:] == [
        {"type": "reasoning", "id": "rs_messages_1", "summary": [],
         "content": [{"type": "reasoning_text", "text": "They want f."}]},
        {"type": "message", "role": "assistant", "content": "Let me look."},
        {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"},
        {"type": "function_call", "call_id": "call_2", "name": "g", "arguments": "{\"a\":1}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "one"},
        {"type": "function_call_output", "call_id": "call_2", "output": [{"type": "input_text", "text": "two"}]},
    ]
    without = to_responses_request({"model": "m", "messages": messages}, reasoning_back=False).request["input"]
    assert [item.get("type") for item in without] == ["message", "message", "function_call", "function_call",
                                                       "function_call_output", "function_call_output"]


def test_assistant_parts_and_refusals_go_back_as_output_parts() -> None:
    messages = [USER, {"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "refusal",
                                                                                        "refusal": "no"}]},
                {"role": "assistant", "content": None, "refusal": "Not that."}, USER,
                {"role": "assistant", "content": "", "tool_calls": [
                    {"id": "c9", "type": "custom", "custom": {"name": "patch", "input": "*** Begin"}}]},
                {"role": "tool", "tool_call_id": "c9", "content": "done"}]
    assert to_responses_request({"model": "m", "messages": messages}).request["input"][1:] == [
        {"type": "message", "role": "assistant", "content": [
            {"type": "output_text", "text": "a", "annotations": []}, {"type": "refusal", "refusal": "no"}]},
        {"type": "message", "role": "assistant", "content": [{"type": "refusal", "refusal": "Not that."}]},
        {"type": "message", "role": "user", "content": "hi"},
        {"type": "custom_tool_call", "call_id": "c9", "name": "patch", "input": "*** Begin"},
        {"type": "custom_tool_call_output", "call_id": "c9", "output": "done"},
    ]


def test_tool_choice_forms() -> None:
    assert down(tools=[TOOL], tool_choice="required")["tool_choice"] == "required"
    assert down(tools=[TOOL], tool_choice={"type": "function", "function": {"name": "f"}})["tool_choice"] == {
        "type": "function", "name": "f"}
    allowed = {"type": "allowed_tools", "allowed_tools": {"mode": "required", "tools": [
        {"type": "function", "function": {"name": "f"}}]}}
    assert down(tools=[TOOL], tool_choice=allowed)["tool_choice"] == {
        "type": "allowed_tools", "mode": "required", "tools": [{"type": "function", "name": "f"}]}


def test_sampling_limits_and_logprobs() -> None:
    request = down(max_tokens=50, max_completion_tokens=60, temperature=0.5, top_p=1, reasoning_effort="high",
                   logprobs=True, top_logprobs=3, parallel_tool_calls=False, user="u", verbosity="high",
                   response_format={"type": "json_object"}, prompt_cache_retention="24h")
    assert request["max_output_tokens"] == 60  # the newer name wins
    assert request["reasoning"] == {"effort": "high"}
    assert request["include"] == ["message.output_text.logprobs"] and request["top_logprobs"] == 3
    assert request["text"] == {"format": {"type": "json_object"}, "verbosity": "high"}
    assert (request["temperature"], request["top_p"], request["parallel_tool_calls"], request["user"]) == (
        0.5, 1, False, "u")


@pytest.mark.parametrize(("chat", "stream", "include_usage"), [
    ({}, False, False),
    ({"stream": True}, True, False),
    ({"stream": True, "stream_options": {"include_usage": True}}, True, True),
    ({"stream": False, "stream_options": {"include_usage": True}}, False, False),
])
def test_stream_and_the_usage_chunk(chat: dict[str, Any], stream: bool, include_usage: bool) -> None:
    result = to_responses_request({"model": "m", "messages": [USER], **chat})
    assert (result.stream, result.include_usage) == (stream, include_usage)
    assert result.request.get("stream", False) is stream
    assert "stream_options" not in result.request  # the Responses stream carries usage in its last event anyway
