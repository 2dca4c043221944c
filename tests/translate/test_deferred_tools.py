"""Deferred tools (`defer_loading: true`) and `tool_search`: a chat model has no tool search, so the tools
behind it are offered to it directly, and `tool_search` itself is dropped.

- Deferred function tools in `tools` (top-level or in a namespace) are ordinary chat function tools.
- A hosted tool search (`execution` absent or `server`) can only load the request's own deferred tools, all
  of which are offered: dropping it loses nothing, so it is not reported and strict mode takes it.
- A client-run tool search (Codex: `execution: client`) searches tools the request does not carry (Codex's
  MCP tools, until searched for): dropping it hides them from the model, so it is reported (strict: 400).
- The tools a search loaded (`tool_search_output` items in the input, as Codex carries them) are offered
  after the request's own tools, once per name; the search and its output make no chat message.
- A call of a tool from a namespace goes back with that `namespace` (Codex routes the call by it).
"""

from __future__ import annotations

from typing import Any

import pytest

from openai_bridge.errors import InvalidRequest
from openai_bridge.ids import SequentialIds
from openai_bridge.translate import Options, StreamTranslator, to_chat_request


def fn(name: str, **extra: Any) -> dict[str, Any]:
    return {"type": "function", "name": name, "parameters": {"type": "object", "properties": {}}, **extra}


def namespace(name: str, *tools: dict[str, Any]) -> dict[str, Any]:
    return {"type": "namespace", "name": name, "description": f"Tools of {name}.", "tools": list(tools)}


def search_items(*tools: dict[str, Any], call_id: str = "call_ts1") -> list[dict[str, Any]]:
    """A client tool search and what it loaded, as Codex sends them back."""
    return [
        {"type": "tool_search_call", "id": "tsc_1", "call_id": call_id, "status": "completed", "execution": "client",
         "arguments": {"query": "weather", "limit": 8}},
        {"type": "tool_search_output", "id": "tso_1", "call_id": call_id, "status": "completed",
         "execution": "client", "tools": list(tools)},
    ]


USER = {"type": "message", "role": "user", "content": "What is the weather in Paris?"}
CLIENT_SEARCH = {"type": "tool_search", "execution": "client", "description": "Search deferred tools.",
                 "parameters": {"type": "object", "properties": {"query": {"type": "string"}}}}
WEATHER = namespace("mcp__weather", fn("lookup_weather", defer_loading=True),
                    fn("convert_currency", defer_loading=True))


def chat_tool_names(request: dict[str, Any], **options: Any) -> list[str]:
    down = to_chat_request(request, options=Options(**options))
    return [t["function"]["name"] for t in down.chat.get("tools", [])]


def called(request: dict[str, Any], name: str) -> dict[str, Any]:
    """The output item the Response gets when the chat model calls `name`."""
    machine = StreamTranslator(request, model="m", new_id=SequentialIds(), clock=lambda: 1)
    machine.start()
    machine.feed({"choices": [{"index": 0, "delta": {"tool_calls": [
        {"index": 0, "id": "call_1", "type": "function", "function": {"name": name, "arguments": "{}"}}]},
        "finish_reason": "tool_calls"}]})
    machine.finish()
    (item,) = machine.response["output"]
    return dict(item)


# --------------------------------------------------------------------------- deferred tools in `tools`


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("search", [{"type": "tool_search"}, {"type": "tool_search", "execution": "server"}])
def test_deferred_tools_are_offered_and_a_hosted_tool_search_is_dropped_quietly(search: dict, strict: bool):
    request = {"model": "m", "input": "hi",
               "tools": [fn("plain"), fn("later", defer_loading=True), namespace("crm", fn("find", defer_loading=True)),
                         search]}

    down = to_chat_request(request, options=Options(strict=strict))

    assert down.dropped == []
    assert down.chat["tools"] == [
        {"type": "function", "function": {"name": name, "parameters": {"type": "object", "properties": {}}}}
        for name in ("plain", "later", "find")
    ]  # `defer_loading` stays behind: the chat function has only chat fields
    assert called(request, "find")["namespace"] == "crm"
    assert "namespace" not in called(request, "later")


def test_a_client_tool_search_is_reported_and_refused_in_strict_mode():
    request = {"model": "m", "input": "hi", "tools": [fn("plain"), CLIENT_SEARCH]}

    down = to_chat_request(request)

    assert [d.param for d in down.dropped] == ["tools[1]"]
    assert "tool_search_output" in down.dropped[0].reason
    assert [t["function"]["name"] for t in down.chat["tools"]] == ["plain"]
    with pytest.raises(InvalidRequest) as refused:
        to_chat_request(request, options=Options(strict=True))
    assert refused.value.param == "tools[1]"


# --------------------------------------------------------------------------- tools a search loaded


def test_tools_a_search_loaded_are_offered_after_the_request_tools():
    request = {"model": "m", "input": [USER, *search_items(WEATHER)], "tools": [fn("exec_command"), CLIENT_SEARCH]}

    down = to_chat_request(request)

    assert [t["function"]["name"] for t in down.chat["tools"]] == ["exec_command", "lookup_weather",
                                                                   "convert_currency"]
    assert down.chat["messages"] == [{"role": "user", "content": "What is the weather in Paris?"}]
    assert [d.param for d in down.dropped] == ["tools[1]"]  # only the search tool itself


def test_loaded_tools_are_offered_without_a_tools_field():
    assert chat_tool_names({"model": "m", "input": [USER, *search_items(fn("lookup_weather", defer_loading=True))]}) \
        == ["lookup_weather"]


def test_a_tool_is_offered_once_however_often_it_was_loaded():
    request = {"model": "m", "tools": [fn("convert_currency")],
               "input": [USER, *search_items(WEATHER), *search_items(WEATHER, call_id="call_ts2")]}

    assert chat_tool_names(request) == ["convert_currency", "lookup_weather"]
    assert "namespace" not in called(request, "convert_currency")  # the request's own, top-level tool
    assert called(request, "lookup_weather")["namespace"] == "mcp__weather"


def test_a_call_of_a_loaded_tool_goes_back_with_its_namespace():
    request = {"model": "m", "input": [USER, *search_items(WEATHER)], "tools": [CLIENT_SEARCH]}

    item = called(request, "lookup_weather")

    assert item["type"] == "function_call"
    assert (item["name"], item["namespace"], item["call_id"]) == ("lookup_weather", "mcp__weather", "call_1")


def test_a_loaded_custom_tool_is_a_freeform_tool_both_ways():
    grammar = {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"}
    request = {"model": "m", "input": [USER, *search_items({"type": "custom", "name": "patch", "format": grammar})]}

    (tool,) = to_chat_request(request).chat["tools"]

    assert tool["function"]["parameters"]["required"] == ["input"]
    assert called(request, "patch")["type"] == "custom_tool_call"


@pytest.mark.parametrize(("items", "param"), [
    ([{"type": "tool_search_output", "execution": "client", "tools": {"type": "function"}}], "input[0].tools"),
    ([{"type": "tool_search_output", "execution": "client", "tools": [{"type": "web_search"}]}],
     "input[0].tools[0].type"),
    ([{"type": "tool_search_output", "execution": "client", "tools": [CLIENT_SEARCH]}], "input[0].tools[0].type"),
    ([{"type": "tool_search_output", "execution": "client", "tools": [{"type": "function"}]}],
     "input[0].tools[0].name"),
])
def test_malformed_search_output_is_a_400_naming_it(items: list, param: str):
    with pytest.raises(InvalidRequest) as refused:
        to_chat_request({"model": "m", "input": items})
    assert refused.value.param == param


def test_a_tool_search_of_unknown_execution_is_a_400():
    with pytest.raises(InvalidRequest) as refused:
        to_chat_request({"model": "m", "input": "hi", "tools": [{"type": "tool_search", "execution": "elsewhere"}]})
    assert refused.value.param == "tools[0].execution"
