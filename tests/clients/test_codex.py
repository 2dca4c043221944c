"""The real Codex CLI (`codex exec`, pinned @openai/codex) against the real bridge, in front of a scripted upstream.

Each test runs `codex exec` once with a fresh CODEX_HOME and a throwaway workdir, pointed at the bridge
(`wire_api = "responses"`), and checks Codex's own result (its last message, files it wrote), what it
sent the bridge (`recorder.bodies`) and what the bridge sent upstream (`upstream.chat_requests`).
Codex may reach nothing but the bridge: analytics, plugins and apps are off in its config, and its proxy
variables point at a closed port (except for 127.0.0.1), so any other request fails instead of going out.

What Codex 0.169.0 sends depends on the model name: a model of its own catalog (`gpt-5.5`) gets the
freeform `custom` tool `apply_patch`, `tool_search`, `web_search` and `text.verbosity`; any other name
(fallback metadata: `gpt-5-codex`, `qwen3-coder`, ...) gets function tools, the `multi_agent_v1`
namespace and `web_search`. The shell tool is the function `exec_command` with `{"cmd": "..."}`.
MCP servers' tools (`[mcp_servers.<name>]`) come as a namespace `mcp__<name>` in `tools` for a fallback
model; for a catalog model they are deferred behind `tool_search` (`execution: client`) and sent only in the
`tool_search_output` of a search the model made.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from openai_bridge.testing import ScriptedUpstream
from openai_bridge.testing import scripted as s
from tests.clients.conftest import Recorder
from tests.support.node import node_modules

CATALOG_MODEL = "gpt-5.5"  # in Codex's bundled model catalog: custom apply_patch, tool_search
FALLBACK_MODEL = "qwen3-coder"  # unknown to Codex: fallback tools, with the multi_agent_v1 namespace
TIMEOUT = 120


@pytest.fixture(scope="module")
def codex() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed to install and run the Codex CLI")
    return node_modules() / ".bin" / "codex"


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    last_message: str
    workdir: Path
    seconds: float  # wall time of `codex exec`, start to exit


# The bridge provider's settings; a test may override or add some (`provider=`).
PROVIDER: dict[str, str | int | bool] = {
    "name": "bridge",
    "wire_api": "responses",
    "env_key": "BRIDGE_API_KEY",
    "request_max_retries": 0,
    "stream_max_retries": 0,
}


def toml_value(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)  # a TOML basic string or integer alike


def run_codex(codex: Path, bridge_url: str, tmp_path: Path, prompt: str, *, model: str = FALLBACK_MODEL,
              bypass: bool = False, provider: dict[str, str | int | bool] | None = None,
              extra_config: str = "") -> Run:
    home, workdir = tmp_path / "codex-home", tmp_path / "work"
    home.mkdir()
    workdir.mkdir()
    settings = {**PROVIDER, "base_url": f"{bridge_url}/v1", **(provider or {})}
    (home / "config.toml").write_text(
        f'model = "{model}"\n'
        'model_provider = "bridge"\n'
        "check_for_update_on_startup = false\n"
        # Without these, Codex also calls github.com (plugin marketplace), chatgpt.com and ab.chatgpt.com.
        "[analytics]\nenabled = false\n"
        "[features]\nplugins = false\napps = false\n"
        "[model_providers.bridge]\n"
        + "".join(f"{key} = {toml_value(value)}\n" for key, value in settings.items())
        + extra_config
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_") and "proxy" not in k.lower()}
    dead = "http://127.0.0.1:9"  # nothing listens there: any request that is not for the bridge fails
    env.update(CODEX_HOME=str(home), BRIDGE_API_KEY="test-key", HTTP_PROXY=dead, HTTPS_PROXY=dead, ALL_PROXY=dead,
               NO_PROXY="127.0.0.1,localhost", RUST_LOG="error")
    last = tmp_path / "last-message.txt"
    argv = [str(codex), "exec", "--skip-git-repo-check", "--ephemeral", "--color", "never", "-C", str(workdir),
            "--output-last-message", str(last)]
    if bypass:
        argv.append("--dangerously-bypass-approvals-and-sandbox")
    started = time.monotonic()
    done = subprocess.run([*argv, prompt], stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env,
                          timeout=TIMEOUT)
    seconds = time.monotonic() - started
    return Run(done.returncode, done.stdout, done.stderr, last.read_text() if last.exists() else "", workdir,
               seconds)


def ok(run: Run) -> Run:
    assert run.returncode == 0, f"codex exec failed ({run.returncode}):\n{run.stdout}\n{run.stderr[-4000:]}"
    return run


def tool_types(body: dict) -> list[str]:
    return [t["type"] for t in body["tools"]]


def call(call_id: str, name: str, arguments: dict) -> dict:
    return {"id": call_id, "name": name, "arguments": json.dumps(arguments)}


def responses_stream(model: str, items: list[dict]) -> bytes:
    """The SSE bytes of a completed Responses stream whose output is `items` (for `recorder.answers`)."""
    response = {"id": "resp_canned", "object": "response", "created_at": 0, "status": "in_progress", "model": model,
                "output": []}
    events: list[dict] = [{"type": "response.created", "response": response}]
    for i, item in enumerate(items):
        events += [{"type": "response.output_item.added", "output_index": i, "item": item},
                   {"type": "response.output_item.done", "output_index": i, "item": item}]
    usage = {"input_tokens": 1, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 1,
             "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 2}
    events.append({"type": "response.completed",
                   "response": {**response, "status": "completed", "output": items, "usage": usage}})
    return b"".join(f"event: {e['type']}\ndata: {json.dumps({**e, 'sequence_number': n})}\n\n".encode()
                    for n, e in enumerate(events))


def mcp_server(name: str = "weather") -> str:
    """Config for Codex to start tests/clients/mcp_weather.py as the MCP server `name`."""
    script = Path(__file__).with_name("mcp_weather.py")
    return f"[mcp_servers.{name}]\ncommand = {json.dumps(sys.executable)}\nargs = [{json.dumps(str(script))}]\n"


# --------------------------------------------------------------------------- a plain prompt


def test_plain_prompt(codex: Path, bridge_url: str, upstream: ScriptedUpstream, recorder: Recorder, tmp_path: Path):
    upstream.push(s.answer("Hello from the scripted upstream."))

    run = ok(run_codex(codex, bridge_url, tmp_path, "Say hello."))

    assert run.last_message.strip() == "Hello from the scripted upstream."
    assert "Hello from the scripted upstream." in run.stdout
    (sent,) = recorder.bodies
    assert sent["stream"] is True and sent["store"] is False
    assert sent["include"] == ["reasoning.encrypted_content"]
    assert "instructions" not in sent
    assert sent["input"][0]["role"] == "developer"
    last = sent["input"][-1]
    assert (last["type"], last["role"], last["content"]) == ("message", "user", [{"type": "input_text",
                                                                                  "text": "Say hello."}])
    (chat,) = upstream.chat_requests
    assert chat.body["model"] == FALLBACK_MODEL and chat.body["stream"] is True
    assert chat.body["messages"][0]["role"] == "system"  # developer -> system (BRIDGE_DEVELOPER_ROLE)
    assert chat.body["messages"][-1] == {"role": "user", "content": "Say hello."}


# --------------------------------------------------------------------------- WebSocket transport


def test_websocket_provider_falls_back_to_http_at_once(codex: Path, bridge_url: str, upstream: ScriptedUpstream,
                                                      recorder: Recorder, tmp_path: Path):
    """`supports_websockets = true` makes Codex open a WebSocket on /v1/responses first. The bridge answers 426,
    on which Codex goes over to HTTP at once and stays there. Any other refusal costs seconds: Codex retries
    the socket `stream_max_retries` times with backoff (5, its default: 7 upgrades and about 6.5 s on the 403
    the bridge used to answer)."""
    upstream.push(s.answer("Hello over HTTP."))

    run = ok(run_codex(codex, bridge_url, tmp_path, "Say hello.",
                       provider={"supports_websockets": True, "stream_max_retries": 5}))

    assert run.last_message.strip() == "Hello over HTTP."
    assert recorder.upgrades == ["/v1/responses"]  # one try, no retry
    assert len(recorder.bodies) == 1 and len(upstream.chat_requests) == 1
    assert run.seconds < 3.0, f"codex exec took {run.seconds:.1f} s"
    assert "Reconnecting" not in run.stderr and "Falling back" not in run.stderr, run.stderr[-2000:]


# --------------------------------------------------------------------------- tools


def test_shell_tool_multi_turn(codex: Path, bridge_url: str, upstream: ScriptedUpstream, recorder: Recorder,
                               tmp_path: Path):
    cmd = "echo hi-from-codex > out.txt && cat out.txt"
    upstream.push(
        s.answer(None, tool_calls=[call("call_sh1", "exec_command", {"cmd": cmd})]),
        s.answer("The file is written."),
    )

    run = ok(run_codex(codex, bridge_url, tmp_path, "Write hi to out.txt.", bypass=True))

    assert (run.workdir / "out.txt").read_text() == "hi-from-codex\n"
    assert run.last_message.strip() == "The file is written."
    first, second = upstream.chat_requests
    exec_tool = next(t for t in first.body["tools"] if t["function"]["name"] == "exec_command")
    assert "cmd" in exec_tool["function"]["parameters"]["properties"]
    # Turn 2: the whole history, with the call and its output as chat tool messages.
    messages = second.body["messages"]
    assistant = next(m for m in messages if m["role"] == "assistant" and m.get("tool_calls"))
    assert assistant["tool_calls"] == [{"id": "call_sh1", "type": "function", "function": {
        "name": "exec_command", "arguments": json.dumps({"cmd": cmd})}}]
    tool = messages[messages.index(assistant) + 1]
    assert tool["role"] == "tool" and tool["tool_call_id"] == "call_sh1"
    assert "hi-from-codex" in tool["content"]
    assert messages[-1] == tool
    # What Codex sent back for turn 2.
    items = recorder.bodies[1]["input"]
    (fc,) = [i for i in items if i.get("type") == "function_call"]
    assert fc["call_id"] == "call_sh1" and fc["name"] == "exec_command"
    (out,) = [i for i in items if i.get("type") == "function_call_output"]
    assert out["call_id"] == "call_sh1"


def test_apply_patch_freeform_tool(codex: Path, bridge_url: str, upstream: ScriptedUpstream, recorder: Recorder,
                                   tmp_path: Path):
    patch = "*** Begin Patch\n*** Add File: hello.txt\n+hello\n*** End Patch\n"
    upstream.push(
        s.answer(None, tool_calls=[call("call_ap1", "apply_patch", {"input": patch})]),
        s.answer("Patched."),
    )

    run = ok(run_codex(codex, bridge_url, tmp_path, "Create hello.txt.", model=CATALOG_MODEL, bypass=True))

    assert (run.workdir / "hello.txt").read_text() == "hello\n"
    assert run.last_message.strip() == "Patched."
    first_body = recorder.bodies[0]
    assert {"type": "custom", "name": "apply_patch"}.items() <= next(
        t for t in first_body["tools"] if t.get("name") == "apply_patch").items()
    first, second = upstream.chat_requests
    ap = next(t for t in first.body["tools"] if t["function"]["name"] == "apply_patch")
    assert ap["function"]["parameters"]["required"] == ["input"]
    assert "grammar" in ap["function"]["description"]
    # Codex got a custom_tool_call (it sends it back so), and its output went upstream as a tool message.
    items = recorder.bodies[1]["input"]
    (ctc,) = [i for i in items if i.get("type") == "custom_tool_call"]
    assert ctc["call_id"] == "call_ap1" and ctc["name"] == "apply_patch" and ctc["input"] == patch
    (out,) = [i for i in items if i.get("type") == "custom_tool_call_output"]
    assert out["call_id"] == "call_ap1"
    messages = second.body["messages"]
    assistant = next(m for m in messages if m["role"] == "assistant" and m.get("tool_calls"))
    assert assistant["tool_calls"] == [{"id": "call_ap1", "type": "function", "function": {
        "name": "apply_patch", "arguments": json.dumps({"input": patch}, separators=(",", ":"))}}]
    tool = messages[messages.index(assistant) + 1]
    assert tool["role"] == "tool" and tool["tool_call_id"] == "call_ap1"
    assert "hello.txt" in json.dumps(tool["content"])


def test_namespace_tool_call(codex: Path, bridge_url: str, upstream: ScriptedUpstream, recorder: Recorder,
                             tmp_path: Path):
    # `close_agent` of the multi_agent_v1 namespace on an agent that does not exist: Codex answers the call
    # with an error output, which is all this needs (the call reached the namespace's handler).
    upstream.push(
        s.answer(None, tool_calls=[call("call_ns1", "close_agent", {"target": "no-such-agent"})]),
        s.answer("Done."),
    )

    run = ok(run_codex(codex, bridge_url, tmp_path, "Close the agent.", bypass=True))

    assert run.last_message.strip() == "Done."
    first, second = upstream.chat_requests
    names = [t["function"]["name"] for t in first.body["tools"]]
    assert {"close_agent", "spawn_agent", "wait_agent", "exec_command"} <= set(names)
    items = recorder.bodies[1]["input"]
    (fc,) = [i for i in items if i.get("type") == "function_call"]
    assert fc["call_id"] == "call_ns1" and fc["name"] == "close_agent" and fc.get("namespace") == "multi_agent_v1"
    (out,) = [i for i in items if i.get("type") == "function_call_output"]
    assert out["call_id"] == "call_ns1"
    tool = next(m for m in second.body["messages"] if m["role"] == "tool")
    assert tool["tool_call_id"] == "call_ns1"


def test_deferred_tools_loaded_by_tool_search(codex: Path, bridge_url: str, upstream: ScriptedUpstream,
                                             recorder: Recorder, tmp_path: Path):
    """With a model of its catalog, Codex defers MCP tools behind its client-run `tool_search`: they are not in
    `tools`, only named in a developer message, until the model searches; Codex then carries the search and
    its result (`tool_search_output`, the tools with `defer_loading: true` in the `mcp__weather` namespace) in
    every later request. A chat model behind the bridge cannot search (`tool_search` is dropped), so the
    first turn is played by a canned answer, as a model with tool search would answer; from the second turn
    on, Codex's real requests go through the bridge: the loaded tools are offered as chat tools, and the chat
    model's call goes back to Codex with its namespace, which Codex needs to route it to the MCP server."""
    recorder.answers.append(responses_stream(CATALOG_MODEL, [{
        "type": "tool_search_call", "id": "tsc_1", "call_id": "call_ts1", "execution": "client",
        "status": "completed", "arguments": {"query": "weather forecast", "limit": 8}}]))
    upstream.push(
        s.answer(None, tool_calls=[call("call_w1", "lookup_weather", {"city": "Paris"})]),
        s.answer("Sunny in Paris."),
    )

    run = ok(run_codex(codex, bridge_url, tmp_path, "What is the weather in Paris?", model=CATALOG_MODEL,
                       bypass=True, extra_config=mcp_server()))

    assert run.last_message.strip() == "Sunny in Paris."
    first, second, third = recorder.bodies
    assert not any(t.get("name") == "mcp__weather" for t in first["tools"])  # deferred: not offered up front,
    developer = [p["text"] for m in first["input"] if m.get("role") == "developer" for p in m["content"]]
    assert any("Deferred tool namespaces:\n- mcp__weather" in text for text in developer)  # only named
    assert "tool_search" in tool_types(second)
    search, loaded = second["input"][-2:]
    assert (search["type"], loaded["type"]) == ("tool_search_call", "tool_search_output")
    (namespace,) = loaded["tools"]
    assert namespace["name"] == "mcp__weather"
    assert {t["name"] for t in namespace["tools"]} == {"lookup_weather", "convert_currency"}
    assert all(t["defer_loading"] is True for t in namespace["tools"])
    # Through the bridge: the loaded tools are ordinary chat tools; the search itself is not sent upstream.
    chat = upstream.chat_requests[0].body
    names = [t["function"]["name"] for t in chat["tools"]]
    assert {"lookup_weather", "convert_currency", "exec_command"} <= set(names)
    assert "tool_search" not in names and len(names) == len(set(names))
    assert chat["messages"][-1]["role"] == "user"
    # The call went back with its namespace, Codex ran it on the MCP server, and sent the output back.
    (fc,) = [i for i in third["input"] if i.get("type") == "function_call"]
    assert (fc["call_id"], fc["name"], fc.get("namespace")) == ("call_w1", "lookup_weather", "mcp__weather")
    (out,) = [i for i in third["input"] if i.get("type") == "function_call_output"]
    assert "forecast for Paris: sunny, 21 C" in json.dumps(out["output"])
    tool = upstream.chat_requests[1].body["messages"][-1]
    assert tool["role"] == "tool" and tool["tool_call_id"] == "call_w1"
    assert "forecast for Paris: sunny, 21 C" in json.dumps(tool["content"])


@pytest.mark.parametrize("model", [CATALOG_MODEL, FALLBACK_MODEL])
def test_builtin_tools_dropped(codex: Path, bridge_url: str, upstream: ScriptedUpstream, recorder: Recorder,
                               tmp_path: Path, model: str):
    upstream.push(s.answer("fine"))

    run = ok(run_codex(codex, bridge_url, tmp_path, "hi", model=model))

    assert run.last_message.strip() == "fine"
    (sent,) = recorder.bodies
    assert "web_search" in tool_types(sent)
    if model == CATALOG_MODEL:
        assert {"custom", "tool_search"} <= set(tool_types(sent))
    else:
        assert "namespace" in tool_types(sent)
    (chat,) = upstream.chat_requests
    assert {t["type"] for t in chat.body["tools"]} == {"function"}
    names = [t["function"]["name"] for t in chat.body["tools"]]
    assert len(names) == len(set(names))
    assert "web_search" not in names and "tool_search" not in names


# --------------------------------------------------------------------------- reasoning


def test_reasoning_then_tool_call(codex: Path, bridge_url: str, upstream: ScriptedUpstream, recorder: Recorder,
                                  tmp_path: Path):
    upstream.push(
        s.answer(None, reasoning_content="I should list the files.",
                 tool_calls=[call("call_r1", "exec_command", {"cmd": "echo listed"})]),
        s.answer("All listed.", reasoning_content="The command worked."),
    )

    run = ok(run_codex(codex, bridge_url, tmp_path, "List files.", bypass=True))

    assert run.last_message.strip() == "All listed."
    assert "I should list the files." in run.stdout + run.stderr  # shown as Codex's reasoning summary
    assert len(upstream.chat_requests) == 2
    # Codex carries the reasoning item back (store: false), sealed by the bridge, right before its call.
    items = recorder.bodies[1]["input"]
    assert [i.get("type") for i in items[-3:]] == ["reasoning", "function_call", "function_call_output"]
    reasoning = items[-3]
    assert reasoning["encrypted_content"]
    assert reasoning["summary"] == [{"type": "summary_text", "text": "I should list the files."}]
    # The default bridge drops earlier reasoning on the way down (BRIDGE_REASONING_BACK unset).
    assert not any("reasoning_content" in m for m in upstream.chat_requests[1].body["messages"])


# --------------------------------------------------------------------------- failures reach Codex's output


@pytest.mark.parametrize(("reply", "shown"), [
    (s.json(s.error_body("Unknown model qwen3-coder", code="model_not_found"), status=404),
     "Upstream error 404: Unknown model qwen3-coder"),
    (s.json(s.error_body("maximum context length is 10 tokens", code="context_length_exceeded"), status=400),
     "ran out of room in the model's context window"),  # Codex's own text for that code
    (s.drop_after(s.text_chunks("partial ", "text")[:2]), "stream disconnected before completion"),
    (s.answer("Truncated answ", finish_reason="length"), "Incomplete response returned, reason: max_output_tokens"),
], ids=["upstream-404", "context-length", "stream-broke-off", "length"])
def test_failures_are_reported(codex: Path, bridge_url: str, upstream: ScriptedUpstream, tmp_path: Path,
                               reply: s.Reply, shown: str):
    upstream.push(reply)

    run = run_codex(codex, bridge_url, tmp_path, "hi")

    assert run.returncode != 0
    assert shown in run.stderr, run.stderr[-2000:]
    assert len(upstream.chat_requests) == 1  # no retries (request_max_retries = stream_max_retries = 0)
