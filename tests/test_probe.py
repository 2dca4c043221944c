"""`openai-bridge probe` against scripted servers of each shape it must tell apart, the real CLI process once,
and (slow) the real llama.cpp server."""

from __future__ import annotations

import json as jsonlib
import subprocess
import sys
from pathlib import Path

import pytest

from openai_bridge.probe import main
from openai_bridge.testing import (
    SSE,
    Received,
    ScriptedUpstream,
    answer,
    chunk,
    completion,
    error_body,
    free_port,
    json,
    sse,
)

ROOT = Path(__file__).resolve().parents[1]
WEATHER_CALL = {"id": "call_1", "name": "get_weather", "arguments": '{"city":"Paris"}'}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REMOTE_OPENAI_BASE_URL", "REMOTE_OPENAI_API_KEY", "DEFAULT_MODEL", "BRIDGE_CONFIG"):
        monkeypatch.delenv(name, raising=False)


def probe_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict, str]:
    """main(args + --json): the exit status, the one report, and stderr."""
    status = main([*args, "--json"])
    out, err = capsys.readouterr()
    (report,) = jsonlib.loads(out)
    return status, report, err


def rows(report: dict) -> dict[str, tuple[str, str]]:
    return {r["check"]: (r["result"], r["note"]) for r in report["checks"]}


def suggested(report: dict) -> dict[str, str]:
    return {s["name"]: s["value"] for s in report["suggested"]}


def capable(req: Received):
    """A server that calls the tool when told to and keeps to a json_schema."""
    body = req.body
    if "tools" in body:
        return answer(None, tool_calls=[WEATHER_CALL])
    if "response_format" in body:
        return answer('{"city": "Paris"}')
    return answer("Hello there!")


def native_stream(path: str) -> SSE:
    """A recorded native Responses stream, sent byte for byte."""
    return SSE(((ROOT / path).read_bytes(),), done=False)


def test_a_chat_only_server(capsys):
    with ScriptedUpstream(models=("m1", "m2")) as up:
        status, report, _ = probe_json(capsys, "--upstream", up.base_url)
        bodies = [r.body for r in up.chat_requests]
    assert status == 0 and report["ok"]
    assert report["model"] == "m1" and report["model_from"] == "the first of /models"
    found = rows(report)
    assert found["models"] == ("2", "m1, m2")
    assert found["chat"][0] == "yes" and "'ok'" in found["chat"][1]
    assert found["chat stream"] == ("yes", "5 chunks, ended with [DONE]")
    assert found["usage in the stream"] == ("yes", "5 in, 7 out")
    assert found["max-tokens field"] == ("both", "both accepted")
    assert found["tools"] == ("no", "answered with text: 'ok'")
    assert found["json_schema"] == ("no", "not JSON: 'ok'")
    assert found["reasoning"][0] == "none"
    assert found["native Responses"] == ("no", "POST /responses: 404 (a chat-only server)")
    assert "Responses stream" not in found
    assert suggested(report) == {"BRIDGE_MAX_TOKENS_FIELD": "max_tokens", "BRIDGE_THINK_TAGS": "1",
                                 "BRIDGE_REASONING_BACK": "", "BRIDGE_UPSTREAM_MODE": "chat"}
    # Small requests, each asking what it checks.
    assert all(b.get("max_tokens", b.get("max_completion_tokens")) <= 32 for b in bodies)
    assert bodies[2]["stream"] and bodies[2]["stream_options"] == {"include_usage": True}
    assert bodies[3]["tool_choice"] == "required" and bodies[3]["tools"][0]["function"]["name"] == "get_weather"
    assert bodies[4]["response_format"]["type"] == "json_schema"


def test_tools_and_json_schema_that_work(capsys):
    with ScriptedUpstream(capable) as up:
        _, report, _ = probe_json(capsys, "--upstream", up.base_url, "--model", "mine")
    found = rows(report)
    assert report["model"] == "mine"
    assert found["tools"] == ("yes", 'tool_calls: get_weather({"city":"Paris"})')
    assert found["json_schema"] == ("yes", "'{\"city\": \"Paris\"}'")


def test_a_server_with_reasoning_content(capsys):
    with ScriptedUpstream(answer("Hi", reasoning_content="Let me think.")) as up:
        _, report, _ = probe_json(capsys, "--upstream", up.base_url)
    assert rows(report)["reasoning"][0] == "reasoning_content"
    assert suggested(report)["BRIDGE_REASONING_BACK"] == "reasoning_content"


def test_a_server_with_a_reasoning_field(capsys):
    def reply(req: Received):
        if req.stream:
            return sse([chunk(role="assistant"), chunk(reasoning="Hmm."), chunk("Hi", finish_reason="stop")])
        return json(completion("Hi", reasoning="Hmm."))

    with ScriptedUpstream(reply) as up:
        _, report, _ = probe_json(capsys, "--upstream", up.base_url)
    found = rows(report)
    assert found["reasoning"][0] == "reasoning"
    assert found["usage in the stream"] == ("no", "no usage chunk with stream_options.include_usage")
    assert suggested(report)["BRIDGE_REASONING_BACK"] == "reasoning"


@pytest.mark.parametrize(("content", "seen", "tags"), [
    ("<think>The user greets me.</think>Hello!", "<think>", "1"),
    ("The user greets me.</think>Hello!", "</think>", "implicit"),  # the chat template opened the block
])
def test_a_server_with_think_tags(capsys, content, seen, tags):
    with ScriptedUpstream(answer(content)) as up:
        _, report, _ = probe_json(capsys, "--upstream", up.base_url)
    assert rows(report)["reasoning"][0] == seen
    assert suggested(report)["BRIDGE_THINK_TAGS"] == tags
    assert suggested(report)["BRIDGE_REASONING_BACK"] == ""


def refusing(field: str):
    def reply(req: Received):
        if field in req.body:
            return json(error_body(f"Unrecognized request argument supplied: {field}"), 400)
        return answer("Hi")
    return reply


def test_a_server_that_refuses_max_completion_tokens(capsys):
    with ScriptedUpstream(refusing("max_completion_tokens")) as up:
        status, report, _ = probe_json(capsys, "--upstream", up.base_url)
    assert status == 0
    result, note = rows(report)["max-tokens field"]
    assert result == "max_tokens only"
    assert note.startswith("max_completion_tokens refused (400: Upstream error 400: Unrecognized request argument")
    assert suggested(report)["BRIDGE_MAX_TOKENS_FIELD"] == "max_tokens"


def test_a_server_that_refuses_max_tokens_gets_the_other_field(capsys):
    with ScriptedUpstream(refusing("max_tokens")) as up:
        status, report, _ = probe_json(capsys, "--upstream", up.base_url)
        later = [r.body for r in up.chat_requests[2:]]
    assert status == 0
    assert rows(report)["max-tokens field"][0] == "max_completion_tokens only"
    assert rows(report)["tools"][0] == "no"  # answered, with text: not refused
    assert all("max_completion_tokens" in b and "max_tokens" not in b for b in later)
    assert suggested(report)["BRIDGE_MAX_TOKENS_FIELD"] == "max_completion_tokens"


def test_a_well_formed_native_responses_stream(capsys):
    # The bridge's own stream for a chat answer: well-formed, once it echoes the probe's max_output_tokens.
    own = (ROOT / "tests/cases/up_text_stop/events.sse").read_bytes()
    with ScriptedUpstream() as up:
        up.push_responses(SSE((own.replace(b'"max_output_tokens":null', b'"max_output_tokens":16'),), done=False))
        _, report, _ = probe_json(capsys, "--upstream", up.base_url)
        sent = [r.body for r in up.requests if r.path.endswith("/responses")]
    found = rows(report)
    assert found["native Responses"][0] == "yes"
    assert found["Responses stream"] == ("well-formed", "")
    assert suggested(report)["BRIDGE_UPSTREAM_MODE"] == "responses"
    assert sent == [{"model": "scripted-model", "input": "Say hello in one short sentence.",
                     "max_output_tokens": 16, "stream": True}]


def test_llamacpps_defective_native_stream(capsys):
    with ScriptedUpstream() as up:
        up.push_responses(native_stream("tests/cases_native/llamacpp_text/upstream.sse"))
        _, report, _ = probe_json(capsys, "--upstream", up.base_url)
    result, note = rows(report)["Responses stream"]
    assert result == "defective"
    assert "no sequence_number (19 of 19 events)" in note
    assert "no output_index (" in note and "no content_index (" in note
    assert "bare response snapshots (3: no created_at, " in note  # created, in_progress, completed
    assert "incomplete parts (1: no annotations, logprobs)" in note
    assert "data-only" not in note and "says completed" not in note  # 12 tokens: under the probe's 16
    assert suggested(report)["BRIDGE_UPSTREAM_MODE"] == "chat"


def test_a_stream_cut_by_max_output_tokens_that_says_completed(capsys):
    # Recorded cut at 60 tokens, which is over the probe's 16 too.
    with ScriptedUpstream() as up:
        up.push_responses(native_stream("tests/cases_native/llamacpp_instructions/upstream.sse"))
        _, report, _ = probe_json(capsys, "--upstream", up.base_url)
    assert "says completed where it is incomplete (cut by max_output_tokens)" in rows(report)["Responses stream"][1]


def test_an_older_data_only_stream_and_closing_events_left_out(capsys):
    with ScriptedUpstream() as up:
        up.push_responses(native_stream("tests/cases_native/older_data_only/upstream.sse"),
                          native_stream("tests/cases_native/llamacpp_shape_reasoning_tool_calls/upstream.sse"))
        _, older, _ = probe_json(capsys, "--upstream", up.base_url)
        _, shaped, _ = probe_json(capsys, "--upstream", up.base_url)
    note = rows(older)["Responses stream"][1]
    assert "data-only frames, no 'event:' names (19 of 19)" in note
    assert note.endswith("ends with data: [DONE] (older servers; harmless)")
    note = rows(shaped)["Responses stream"][1]
    assert "events left out, added by the repair: " in note and "function_call_arguments.done" in note


def test_a_stream_that_stops_without_a_terminal_event(capsys):
    lines = (ROOT / "tests/cases_native/llamacpp_text/upstream.sse").read_bytes().split(b"\n\n")
    cut = b"\n\n".join(line for line in lines if b"response.completed" not in line)
    with ScriptedUpstream() as up:
        up.push_responses(SSE((cut,), done=False))
        _, report, _ = probe_json(capsys, "--upstream", up.base_url)
    assert "no terminal event (the stream just stopped)" in rows(report)["Responses stream"][1]


def test_an_unreachable_upstream_exits_1_with_the_bridges_message(capsys):
    port = free_port()
    status = main(["--upstream", f"http://127.0.0.1:{port}"])
    out, err = capsys.readouterr()
    assert status == 1
    assert err == (f"openai-bridge probe: Cannot reach the upstream at http://127.0.0.1:{port}/v1: connection "
                   "refused (check REMOTE_OPENAI_BASE_URL, and that the model server is running).\n")
    assert "check" not in out  # no empty table


def test_an_upstream_that_refuses_everything_exits_1(capsys, monkeypatch):
    monkeypatch.setenv("SOME_KEY", "sk-wrong-key-123")
    with ScriptedUpstream(json(error_body("Incorrect API key provided: sk-wrong-key-123"), 401)) as up:
        status, report, err = probe_json(capsys, "--upstream", up.base_url, "--model", "m",
                                         "--api-key-env", "SOME_KEY")
        sent = up.chat_requests[0].headers["authorization"]
    assert status == 1 and not report["ok"] and report["suggested"] == []
    assert sent == "Bearer sk-wrong-key-123"
    assert "refused the bridge's credentials" in err and "sk-wrong-key-123" not in err  # redacted
    assert rows(report)["chat"][0] == "no"


def test_without_upstream_it_probes_the_configured_one(capsys, monkeypatch, tmp_path):
    with ScriptedUpstream(models=("a",)) as one, ScriptedUpstream(models=("b",)) as two:
        monkeypatch.setenv("REMOTE_OPENAI_BASE_URL", one.base_url)
        monkeypatch.setenv("DEFAULT_MODEL", "chosen")
        status, report, _ = probe_json(capsys)
        assert (report["upstream"], report["model"]) == (one.base_url, "chosen")
        assert one.last.body["model"] == "chosen"
        config = tmp_path / "bridge.toml"
        config.write_text(f'[upstreams.one]\nbase_url = "{one.base_url}"\n'
                          f'[upstreams.two]\nbase_url = "{two.base_url}"\n')
        monkeypatch.setenv("BRIDGE_CONFIG", str(config))
        monkeypatch.delenv("DEFAULT_MODEL")
        assert main(["--json"]) == 0
    reports = jsonlib.loads(capsys.readouterr().out)
    assert [(r["upstream"], r["model"]) for r in reports] == [(one.base_url, "a"), (two.base_url, "b")]


def test_the_cli_process_prints_the_table():
    with ScriptedUpstream(answer("Hi", reasoning_content="Hmm.")) as up:
        done = subprocess.run([sys.executable, "-m", "openai_bridge", "probe", "--upstream", up.base_url],
                              capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"upstream {up.base_url}, model scripted-model (the first of /models)"
    assert lines[2].split() == ["check", "result", "note"]
    assert any(line.split()[:2] == ["reasoning", "reasoning_content"] for line in lines)
    assert "  BRIDGE_REASONING_BACK=reasoning_content" in lines
    helped = subprocess.run([sys.executable, "-m", "openai_bridge", "probe", "--help"], capture_output=True,
                            text=True, timeout=60, cwd=ROOT)
    assert helped.returncode == 0 and "--api-key-env VAR" in helped.stdout


@pytest.mark.slow
def test_the_real_llamacpp_server(capsys):
    from tests.support.llamacpp import llamacpp_server

    with llamacpp_server(alias="smollm2") as url:
        status, report, _ = probe_json(capsys, "--upstream", url)
    found = rows(report)
    assert status == 0 and report["model"] == "smollm2"
    assert found["chat"][0] == found["chat stream"][0] == found["usage in the stream"][0] == "yes"
    assert found["max-tokens field"][0] == "both"
    assert found["reasoning"][0] == "none"  # SmolLM2 does not reason
    assert found["native Responses"][0] == "yes"
    assert found["Responses stream"][0] == "defective" and "no sequence_number" in found["Responses stream"][1]
    assert found["tools"][0] == "no" and found["tools"][1].startswith("answered with text")
    assert suggested(report)["BRIDGE_UPSTREAM_MODE"] == "chat"
