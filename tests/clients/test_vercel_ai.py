"""The Vercel AI SDK (`ai` + `@ai-sdk/openai`, `.responses(model)`) against the real bridge.

Each scenario is a script in tests/clients/js/ run by node with the bridge URL as argument; it prints
the SDK's own result as JSON. The pinned packages come from `tests.support.node.node_modules()`,
linked as tests/clients/js/node_modules (git-ignored) so that ESM imports resolve.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from openai_bridge.testing import ScriptedUpstream
from openai_bridge.testing import scripted as s
from tests.clients.conftest import Recorder
from tests.support.node import node_modules

JS = Path(__file__).resolve().parent / "js"


@pytest.fixture(scope="module")
def node() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed for the Vercel AI SDK tests")
    modules = node_modules()
    link = JS / "node_modules"
    if link.is_symlink() and link.resolve() != modules.resolve():
        link.unlink()
    if not link.exists():
        with contextlib.suppress(FileExistsError):  # another test process linked it meanwhile
            link.symlink_to(modules, target_is_directory=True)
    return link


def run_script(name: str, bridge_url: str, *args: str) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    done = subprocess.run(["node", str(JS / name), bridge_url, *args], cwd=JS, env=env, capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0, f"node {name} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_generate_text(node: Path, bridge_url: str, upstream: ScriptedUpstream, recorder: Recorder):
    upstream.push(s.json(s.completion("Hello from the bridge.")))

    result = run_script("generate_text.mjs", bridge_url)

    assert result["text"] == "Hello from the bridge."
    assert result["finishReason"] == "stop"
    assert result["usage"]["inputTokens"] == 5 and result["usage"]["outputTokens"] == 7
    assert result["responseId"].startswith("resp_")
    (sent,) = recorder.bodies
    assert "stream" not in sent
    (chat,) = upstream.chat_requests
    assert chat.body["model"] == "vercel-model"
    assert chat.body["messages"] == [{"role": "system", "content": "Be brief."},
                                     {"role": "user", "content": "Say hello."}]
    assert not chat.body.get("stream")


def test_stream_text(node: Path, bridge_url: str, upstream: ScriptedUpstream):
    upstream.push(s.sse(s.text_chunks("Once ", "upon ", "a time."), delay=0.005))

    result = run_script("stream_text.mjs", bridge_url)

    assert result["errors"] == []
    assert result["deltas"] == ["Once ", "upon ", "a time."]
    assert result["text"] == "Once upon a time."
    assert result["finishReason"] == "stop"
    assert result["usage"]["totalTokens"] == 12
    assert upstream.last.body["stream"] is True


def test_tool_call_and_follow_up(node: Path, bridge_url: str, upstream: ScriptedUpstream):
    call = {"id": "call_v1", "name": "get_weather", "arguments": '{"city":"Paris"}'}
    upstream.push(s.json(s.completion(None, tool_calls=[call])), s.json(s.completion("Sunny, 21 C in Paris.")))

    result = run_script("tool_call.mjs", bridge_url)

    assert result["executed"] == ["Paris"]
    assert result["text"] == "Sunny, 21 C in Paris."
    first, second = result["steps"]
    assert first["finishReason"] == "tool-calls"
    assert first["toolCalls"] == [{"toolCallId": "call_v1", "toolName": "get_weather", "input": {"city": "Paris"}}]
    assert first["toolResults"] == [{"toolCallId": "call_v1",
                                     "output": {"city": "Paris", "forecast": "sunny", "celsius": 21}}]
    assert second["finishReason"] == "stop"

    turn1, turn2 = upstream.chat_requests
    (tool,) = turn1.body["tools"]
    assert tool["function"]["name"] == "get_weather"
    assert tool["function"]["parameters"]["properties"] == {"city": {"type": "string"}}
    messages = turn2.body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool"]
    assert messages[1]["tool_calls"] == [{"id": "call_v1", "type": "function",
                                          "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]
    assert messages[2]["tool_call_id"] == "call_v1"
    assert json.loads(messages[2]["content"]) == {"city": "Paris", "forecast": "sunny", "celsius": 21}


def test_generate_object(node: Path, bridge_url: str, upstream: ScriptedUpstream):
    upstream.push(s.json(s.completion('{"city": "Oslo", "celsius": -3.5, "rain": false}')))

    result = run_script("generate_object.mjs", bridge_url)

    assert result["object"] == {"city": "Oslo", "celsius": -3.5, "rain": False}
    fmt = upstream.last.body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "forecast"
    assert fmt["json_schema"]["description"] == "A weather forecast"
    assert set(fmt["json_schema"]["schema"]["properties"]) == {"city", "celsius", "rain"}


def test_stream_text_tool_call_with_reasoning(node: Path, bridge_url: str, upstream: ScriptedUpstream,
                                              recorder: Recorder):
    call = {"id": "call_v2", "name": "get_weather", "arguments": '{"city":"Paris"}'}
    upstream.push(s.answer(None, reasoning_content="I should look it up.", tool_calls=[call]),
                  s.answer("Sunny, 21 C in Paris.", reasoning_content="The tool said sunny."))

    result = run_script("tool_call.mjs", bridge_url, "stream", "no-store")

    assert result["errors"] == []
    assert result["executed"] == ["Paris"]
    assert result["text"] == "Sunny, 21 C in Paris."
    # The SDK sees the reasoning items, but reads reasoning *text* only from `summary` parts
    # (response.reasoning_summary_text.delta); the bridge sends it as `content` reasoning_text (WIRE.md).
    assert result["parts"].count("reasoning-start") == result["parts"].count("reasoning-end") == 2
    first, second = result["steps"]
    assert first["toolCalls"] == [{"toolCallId": "call_v2", "toolName": "get_weather", "input": {"city": "Paris"}}]
    assert "tool-input-delta" in result["parts"] and "text-delta" in result["parts"]
    turn1, turn2 = upstream.chat_requests
    assert turn1.body["stream"] is True and turn2.body["stream"] is True
    assert [m["role"] for m in turn2.body["messages"]] == ["user", "assistant", "tool"]
    assert turn2.body["messages"][1]["tool_calls"][0]["id"] == "call_v2"
    # With store false the SDK sends earlier items in full (no item_reference); reasoning without
    # encrypted_content it leaves out.
    assert [i.get("type") for i in recorder.bodies[1]["input"]] == [None, "function_call", "function_call_output"]
    assert recorder.bodies[1]["store"] is False


def test_follow_up_with_stored_item_references(node: Path, bridge_url: str, upstream: ScriptedUpstream,
                                               recorder: Recorder):
    call = {"id": "call_v3", "name": "get_weather", "arguments": '{"city":"Paris"}'}
    upstream.push(s.answer("Let me check.", reasoning_content="Look it up.", tool_calls=[call]),
                  s.answer("Sunny, 21 C in Paris."))
    try:
        result = run_script("tool_call.mjs", bridge_url)
    finally:
        refs = [i for i in recorder.bodies[-1]["input"] if i.get("type") == "item_reference"]
        assert [r["id"][:3] for r in refs] == ["rs_", "msg"]
    assert result["text"] == "Sunny, 21 C in Paris."
    # The references were resolved to the items the bridge produced: the upstream saw the whole turn.
    turn2 = upstream.chat_requests[-1].body["messages"]
    assert [m["role"] for m in turn2] == ["user", "assistant", "tool"]
    assert turn2[1]["content"] == "Let me check." and turn2[1]["tool_calls"][0]["id"] == "call_v3"


def test_reasoning_text_shown_when_a_summary_is_asked_for(node: Path, bridge_url: str, upstream: ScriptedUpstream,
                                                          recorder: Recorder):
    call = {"id": "call_v4", "name": "get_weather", "arguments": '{"city":"Paris"}'}
    upstream.push(s.answer(None, reasoning_content="I should look it up.", tool_calls=[call]),
                  s.answer("Sunny, 21 C in Paris.", reasoning_content="The tool said sunny."))

    result = run_script("tool_call.mjs", bridge_url, "stream", "no-store", "summary")

    assert result["errors"] == []
    assert recorder.bodies[0]["reasoning"]["summary"] == "auto"
    # The SDK reads reasoning text from summary events only; the bridge mirrors the reasoning there.
    assert "The tool said sunny." in result["reasoningText"]
    assert result["text"] == "Sunny, 21 C in Paris."
