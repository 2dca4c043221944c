"""Malformed requests are refused with `InvalidRequest` naming the offending `param` (400)."""

from __future__ import annotations

from typing import Any

import pytest

from openai_bridge.errors import InvalidRequest
from openai_bridge.translate import Options, to_chat_request

BAD: list[tuple[str, dict[str, Any], str]] = [
    ("input missing", {"model": "m"}, "input"),
    ("input null", {"model": "m", "input": None}, "input"),
    ("input a number", {"model": "m", "input": 42}, "input"),
    ("unknown item type", {"model": "m", "input": [{"type": "bogus_item"}]}, "input[0].type"),
    ("item without type or role", {"model": "m", "input": [{"content": "x"}]}, "input[0].type"),
    ("message with bad role", {"model": "m", "input": [{"type": "message", "role": "robot", "content": "x"}]},
     "input[0].role"),
    ("second item bad role",
     {"model": "m", "input": [{"role": "user", "content": "x"}, {"role": "tool", "content": "y"}]}, "input[1].role"),
    ("non-object item", {"model": "m", "input": ["just a string"]}, "input[0]"),
    ("message content a number", {"model": "m", "input": [{"role": "user", "content": 3}]}, "input[0].content"),
    ("unknown content part", {"model": "m", "input": [{"role": "user", "content": [{"type": "input_video"}]}]},
     "input[0].content[0].type"),
    ("function_call without call_id",
     {"model": "m", "input": [{"type": "function_call", "name": "f", "arguments": "{}"}]}, "input[0].call_id"),
    ("model missing, no default", {"input": "hi"}, "model"),
    ("model not a string", {"model": 5, "input": "hi"}, "model"),
    ("max_output_tokens zero", {"model": "m", "input": "hi", "max_output_tokens": 0}, "max_output_tokens"),
    ("max_output_tokens a string", {"model": "m", "input": "hi", "max_output_tokens": "10"}, "max_output_tokens"),
    ("max_output_tokens a bool", {"model": "m", "input": "hi", "max_output_tokens": True}, "max_output_tokens"),
    ("bad tool type", {"model": "m", "input": "hi", "tools": [{"type": "teleport"}]}, "tools[0].type"),
    ("tool not an object", {"model": "m", "input": "hi", "tools": ["f"]}, "tools[0]"),
    ("function tool without name", {"model": "m", "input": "hi", "tools": [{"type": "function"}]}, "tools[0].name"),
    ("bad tool_choice", {"model": "m", "input": "hi", "tool_choice": "sometimes"}, "tool_choice"),
    ("bad text.format type", {"model": "m", "input": "hi", "text": {"format": {"type": "xml"}}}, "text.format.type"),
    ("temperature a string", {"model": "m", "input": "hi", "temperature": "hot"}, "temperature"),
    ("top_logprobs out of range", {"model": "m", "input": "hi", "top_logprobs": 21}, "top_logprobs"),
    ("stream not a boolean", {"model": "m", "input": "hi", "stream": "yes"}, "stream"),
    # Found by typing the translator: these used to crash (500) / go upstream as an empty object.
    ("custom tool description not a string",
     {"model": "m", "input": "hi", "tools": [{"type": "custom", "name": "x", "description": 5}]},
     "tools[0].description"),
    ("input_audio without data and format",
     {"model": "m", "input": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]},
     "input[0].content[0].input_audio"),
]


@pytest.mark.parametrize(("request_body", "param"), [(b, p) for _, b, p in BAD], ids=[n for n, _, _ in BAD])
def test_bad_request_names_the_param(request_body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        to_chat_request(request_body)
    err = info.value
    assert err.param == param
    assert err.status == 400
    body = err.body()["error"]
    assert body["type"] == "invalid_request_error" and body["param"] == param and body["message"]


def test_model_missing_uses_the_default() -> None:
    assert to_chat_request({"input": "hi"}, default_model="d").chat["model"] == "d"


@pytest.mark.parametrize("tool", [{"type": "web_search"}, {"type": "file_search", "vector_store_ids": ["v"]},
                                  {"type": "code_interpreter", "container": {"type": "auto"}}, {"type": "mcp"},
                                  {"type": "image_generation"}, {"type": "local_shell"}])
def test_strict_mode_refuses_a_builtin_tool(tool: dict[str, Any]) -> None:
    request = {"model": "m", "input": "hi", "tools": [{"type": "function", "name": "f"}, tool]}
    with pytest.raises(InvalidRequest) as info:
        to_chat_request(request, options=Options(strict=True))
    assert info.value.status == 400
    assert info.value.param == "tools[1]"
    assert "tools[1]" in info.value.message


def test_default_mode_drops_a_builtin_tool_and_says_so() -> None:
    down = to_chat_request({"model": "m", "input": "hi", "tools": [{"type": "web_search"}]})
    assert "tools" not in down.chat
    assert [d.param for d in down.dropped] == ["tools[0]"]


def test_strict_mode_refuses_an_unknown_field() -> None:
    with pytest.raises(InvalidRequest) as info:
        to_chat_request({"model": "m", "input": "hi", "frobnicate": 1}, options=Options(strict=True))
    assert info.value.param == "frobnicate"
