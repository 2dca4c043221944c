"""The README's code works as written: every Python block compiles, the client example and the test-kit example
run against a scripted upstream, the Codex config parses, and the llama.cpp script it names answers `--help`."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from openai_bridge.settings import Settings
from openai_bridge.testing import ScriptedUpstream, answer, chunk, drop_after, running_bridge, sse

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
CLIENT_URL = "http://127.0.0.1:8099/v1"


def blocks(language: str) -> list[tuple[str, str]]:
    """(the heading above it, the code) of every fenced block in `language`."""
    found = []
    heading = ""
    for match in re.finditer(r"^(#+ [^\n]*)$|^```(\w*)\n(.*?)^```$", README, re.M | re.S):
        if match.group(1):
            heading = match.group(1).lstrip("# ")
        elif match.group(2) == language:
            found.append((heading, match.group(3)))
    return found


def block_under(heading: str, language: str = "python") -> str:
    (code,) = [code for h, code in blocks(language) if h == heading]
    return code


@pytest.mark.parametrize(("heading", "code"), blocks("python"), ids=lambda v: v[:40] if "\n" not in v else "")
def test_python_blocks_compile(heading: str, code: str) -> None:
    compile(code, f"README.md, {heading}", "exec")


@pytest.fixture(scope="module")
def bridge() -> Iterator[tuple[ScriptedUpstream, str]]:
    with ScriptedUpstream() as upstream, running_bridge(Settings(upstream=upstream.base_url)) as url:
        yield upstream, url


def run_client_example(url: str) -> tuple[str, str | None]:
    """The README's client example, pointed at `url`: what it printed, and its exit message if it exited."""
    code = block_under("A client that streams reasoning and text")
    assert CLIENT_URL in code
    out = io.StringIO()
    exit_message = None
    with contextlib.redirect_stdout(out):
        try:
            exec(compile(code.replace(CLIENT_URL, url + "/v1"), "README client example", "exec"), {})
        except SystemExit as exc:
            exit_message = str(exc.code)
    return out.getvalue(), exit_message


def test_client_example_prints_reasoning_text_and_usage(bridge: tuple[ScriptedUpstream, str]) -> None:
    upstream, url = bridge
    upstream.push(sse([chunk(reasoning_content="A robot, "), chunk(reasoning_content="a friend."),
                       chunk(content="Beep met "), chunk(content="Boop."), chunk(finish_reason="stop")]))

    printed, exit_message = run_client_example(url)

    assert exit_message is None
    assert printed.startswith("A robot, a friend.\n---\nBeep met Boop.\n")
    assert "input_tokens=" in printed  # the usage line
    sent = upstream.last.body
    assert (sent["model"], sent["max_tokens"], sent["reasoning_effort"]) == ("smollm2", 300, "low")


def test_client_example_reports_a_cut_off_answer(bridge: tuple[ScriptedUpstream, str]) -> None:
    upstream, url = bridge
    upstream.push(answer("Once upon a", finish_reason="length"))

    printed, exit_message = run_client_example(url)

    assert exit_message is None
    assert printed == "Once upon a\n[incomplete: max_output_tokens]\n"


def test_client_example_exits_on_a_failed_stream(bridge: tuple[ScriptedUpstream, str]) -> None:
    upstream, url = bridge
    upstream.push(drop_after([chunk(content="Once upon")]))

    printed, exit_message = run_client_example(url)

    assert printed == "Once upon"
    assert exit_message is not None and exit_message.startswith("\n[failed: upstream_bad_response: ")


def test_test_kit_example_runs() -> None:
    exec(compile(block_under("Testing your own client against the bridge"), "README test kit example", "exec"), {})


def test_codex_config_points_at_the_bridge() -> None:
    config = tomllib.loads(block_under("Codex CLI", "toml"))
    provider = config["model_providers"][config["model_provider"]]
    assert provider["wire_api"] == "responses"
    assert provider["base_url"] == f"http://127.0.0.1:{Settings().port}/v1"


def test_llama_server_script_answers_help() -> None:
    assert "examples/llama_server.py" in README
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "llama_server.py"), "--help"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "--ctx" in done.stdout and "--port" in done.stdout
