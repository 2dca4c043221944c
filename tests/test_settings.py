"""Settings: parsed once from the environment and the flags, and every bad value refused by name."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from openai_bridge.settings import SettingsError, from_env, load, normalize_base_url


def test_base_url_with_or_without_v1():
    assert normalize_base_url("http://localhost:8000") == "http://localhost:8000/v1"
    assert normalize_base_url("http://localhost:8000/") == "http://localhost:8000/v1"
    assert normalize_base_url("http://localhost:8000/v1") == "http://localhost:8000/v1"
    assert normalize_base_url("https://api.example.com/v1/") == "https://api.example.com/v1"


@pytest.mark.parametrize("url", ["https://openrouter.ai/api/v1", "https://generativelanguage.googleapis.com/v1beta/openai",
                                 "https://api.z.ai/api/paas/v4", "https://models.github.ai/inference"])
def test_a_base_url_with_a_path_is_taken_as_the_provider_writes_it(url: str):
    """Adding /v1 to these would call routes their servers do not have (a 404 for every request)."""
    assert normalize_base_url(url) == url
    assert normalize_base_url(url + "/") == url


ENDPOINT_URLS = [
    ("http://h:8000/v1/chat/completions", "/chat/completions", "http://h:8000/v1"),
    ("http://h:8000/chat/completions/", "/chat/completions", "http://h:8000/v1"),
    ("https://openrouter.ai/api/v1/responses", "/responses", "https://openrouter.ai/api/v1"),
    ("http://h:8000/v1/completions", "/completions", "http://h:8000/v1"),
]


@pytest.mark.parametrize(("value", "endpoint", "base"), ENDPOINT_URLS, ids=[v for v, _, _ in ENDPOINT_URLS])
def test_an_endpoint_url_is_refused_with_the_base_url_to_use(value: str, endpoint: str, base: str):
    with pytest.raises(SettingsError) as err:
        from_env({"REMOTE_OPENAI_BASE_URL": value})
    assert str(err.value) == (f"REMOTE_OPENAI_BASE_URL={value!r} is not valid: expected the base URL, without "
                              f"{endpoint} (the bridge adds it): {base!r}")
    with pytest.raises(SettingsError, match=r"^--upstream '.*' is not valid: expected the base URL, without"):
        load(["--upstream", value], {})


def test_defaults():
    s = from_env({})
    assert (s.host, s.port, s.workers, s.log_level) == ("127.0.0.1", 8099, 1, "info")
    assert s.upstream == "http://127.0.0.1:8000/v1"
    assert s.default_model is None and s.api_key is None
    assert (s.timeouts.connect, s.timeouts.first_byte, s.timeouts.idle, s.keepalive) == (10, 600, 300, 5)
    assert s.shutdown_grace == 10
    assert s.translate.strict is False and s.translate.think_tags is True and s.translate.merge_system is True


def test_env():
    s = from_env({
        "REMOTE_OPENAI_BASE_URL": "http://gpu:8000",
        "REMOTE_OPENAI_API_KEY": "sk-x",
        "DEFAULT_MODEL": "llama",
        "BRIDGE_HOST": "0.0.0.0",
        "BRIDGE_PORT": "9000",
        "BRIDGE_WORKERS": "2",
        "BRIDGE_LOG_LEVEL": "debug",
        "BRIDGE_STRICT": "1",
        "BRIDGE_THINK_TAGS": "off",
        "BRIDGE_UPSTREAM_TIMEOUT": "7",
        "BRIDGE_UPSTREAM_CONNECT_TIMEOUT": "2.5",
        "BRIDGE_KEEPALIVE": "0.5",
        "BRIDGE_SHUTDOWN_GRACE": "2.5",
        "BRIDGE_MAX_TOKENS_FIELD": "max_completion_tokens",
        "BRIDGE_INSTRUCTIONS_ROLE": "developer",
        "BRIDGE_REASONING_BACK": "reasoning_content",
        "BRIDGE_PASSTHROUGH": "service_tier, verbosity",
        "BRIDGE_STATE_DIR": "/tmp/bridge-state",
        "BRIDGE_MAX_BODY_MB": "8",
        "BRIDGE_MAX_TOOLS": "64",
    })
    assert (s.limits.max_body_mb, s.limits.max_tools, s.limits.max_input_items) == (8, 64, 10_000)
    assert s.upstream == "http://gpu:8000/v1"
    assert s.api_key == "sk-x" and s.default_model == "llama"
    assert (s.host, s.port, s.workers, s.log_level) == ("0.0.0.0", 9000, 2, "debug")
    assert s.translate.strict is True and s.translate.think_tags is False
    assert s.timeouts.first_byte == 7 and s.timeouts.idle == 7  # one timeout for both unless set apart
    assert s.timeouts.connect == 2.5 and s.keepalive == 0.5 and s.shutdown_grace == 2.5
    assert s.translate.max_tokens_field == "max_completion_tokens"
    assert s.translate.instructions_role == "developer"
    assert s.translate.reasoning_back == "reasoning_content"
    assert s.translate.passthrough == frozenset({"service_tier", "verbosity"})
    assert str(s.state_dir) == "/tmp/bridge-state"


def test_think_tags_implicit():
    assert from_env({"BRIDGE_THINK_TAGS": "implicit"}).translate.think_tags == "implicit"
    assert from_env({"BRIDGE_THINK_TAGS": "yes"}).translate.think_tags is True


def test_idle_timeout_set_apart():
    s = from_env({"BRIDGE_UPSTREAM_TIMEOUT": "60", "BRIDGE_UPSTREAM_IDLE_TIMEOUT": "5"})
    assert (s.timeouts.first_byte, s.timeouts.idle) == (60, 5)


def test_no_shutdown_grace():
    assert from_env({"BRIDGE_SHUTDOWN_GRACE": "0"}).shutdown_grace == 0


def test_empty_variable_is_unset():
    assert from_env({"BRIDGE_PORT": "", "DEFAULT_MODEL": " "}).port == 8099


def test_flags_override_env():
    s = load(["--port", "9100", "--host", "0.0.0.0", "--upstream", "http://x:1", "--workers", "2",
              "--default-model", "qwen", "--log-level", "warning"], {"BRIDGE_PORT": "9000", "BRIDGE_WORKERS": "4"})
    assert (s.port, s.host, s.upstream, s.workers) == (9100, "0.0.0.0", "http://x:1/v1", 2)
    assert (s.default_model, s.log_level) == ("qwen", "warning")


BAD = [
    ("BRIDGE_WORKERS", "abc", "an integer from 1 to 256"),
    ("BRIDGE_WORKERS", "0", "an integer from 1 to 256"),
    ("BRIDGE_PORT", "99999", "an integer from 1 to 65535"),
    ("BRIDGE_PORT", "http", "an integer from 1 to 65535"),
    ("BRIDGE_UPSTREAM_TIMEOUT", "-1", "greater than 0"),
    ("BRIDGE_UPSTREAM_IDLE_TIMEOUT", "nan", "greater than 0"),
    ("BRIDGE_UPSTREAM_CONNECT_TIMEOUT", "0", "greater than 0"),
    ("BRIDGE_KEEPALIVE", "inf", "greater than 0"),
    ("BRIDGE_SHUTDOWN_GRACE", "-1", "a number of seconds, 0 or more"),
    ("BRIDGE_SHUTDOWN_GRACE", "inf", "a number of seconds, 0 or more"),
    ("BRIDGE_SHUTDOWN_GRACE", "soon", "a number of seconds, 0 or more"),
    ("REMOTE_OPENAI_BASE_URL", "notaurl", "http:// or https:// URL"),
    ("REMOTE_OPENAI_BASE_URL", "ftp://host/v1", "http:// or https:// URL"),
    ("REMOTE_OPENAI_BASE_URL", "http://host:99999", "http:// or https:// URL"),
    ("BRIDGE_MAX_TOKENS_FIELD", "bogus", "max_tokens or max_completion_tokens"),
    ("BRIDGE_REASONING_BACK", "content", "reasoning_content or reasoning"),
    ("BRIDGE_INSTRUCTIONS_ROLE", "user", "system or developer"),
    ("BRIDGE_DEVELOPER_ROLE", "admin", "system or developer"),
    ("BRIDGE_STRICT", "maybe", "1 or 0"),
    ("BRIDGE_THINK_TAGS", "2", "1 or 0"),
    ("BRIDGE_MERGE_SYSTEM", "yesplease", "1 or 0"),
    ("BRIDGE_LOG_LEVEL", "loud", "debug, info, warning, error or critical"),
    ("BRIDGE_PASSTHROUGH", "service_tier,temperature", "comma-separated names among service_tier"),
    ("BRIDGE_MAX_BODY_MB", "0", "an integer number of megabytes from 1 to 4096"),
    ("BRIDGE_MAX_BODY_MB", "1.5", "an integer number of megabytes from 1 to 4096"),
    ("BRIDGE_MAX_JSON_DEPTH", "4", "an integer from 8 to 512"),
    ("BRIDGE_MAX_INPUT_ITEMS", "0", "a positive integer"),
    ("BRIDGE_MAX_TOOLS", "many", "a positive integer"),
]


@pytest.mark.parametrize(("name", "value", "allowed"), BAD, ids=[f"{n}={v}" for n, v, _ in BAD])
def test_bad_value_is_refused_by_name(name: str, value: str, allowed: str):
    with pytest.raises(SettingsError) as err:
        from_env({name: value})
    message = str(err.value)
    assert message.count("\n") == 0, "one line"
    assert message.startswith(f"{name}={value!r} is not valid: expected ")
    assert allowed in message


def test_bad_flag_is_refused_by_name():
    with pytest.raises(SettingsError, match=r"^--port '0' is not valid: expected an integer from 1 to 65535$"):
        load(["--port", "0"], {})


def test_every_bad_value_gets_its_own_line():
    with pytest.raises(SettingsError) as err:
        from_env({"BRIDGE_PORT": "x", "BRIDGE_WORKERS": "y"})
    assert sorted(line.split("=")[0] for line in str(err.value).splitlines()) == ["BRIDGE_PORT", "BRIDGE_WORKERS"]


def test_secrets_are_not_echoed():
    """A secret cannot be invalid today; should it ever be, its value must still not be printed."""
    from openai_bridge.settings import SOURCES, _line

    key = next(s for s in SOURCES if s.env == "REMOTE_OPENAI_API_KEY")
    assert "sk-secret" not in _line(key, key.env, "sk-secret")


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "REMOTE_OPENAI_"))}
    return subprocess.run([sys.executable, "-m", "openai_bridge.cli", *args], env={**full, **env},
                          capture_output=True, timeout=30)


THE_ISSUES_CASES = [("BRIDGE_WORKERS", "abc"), ("BRIDGE_PORT", "99999"), ("BRIDGE_UPSTREAM_TIMEOUT", "-1"),
                    ("REMOTE_OPENAI_BASE_URL", "notaurl"), ("BRIDGE_MAX_TOKENS_FIELD", "bogus"),
                    ("BRIDGE_REASONING_BACK", "content")]


@pytest.mark.parametrize(("name", "value"), THE_ISSUES_CASES)
def test_cli_stops_with_one_line_and_status_2(name: str, value: str):
    proc = run_cli({name: value})
    assert proc.returncode == 2
    assert proc.stdout == b""
    lines = proc.stderr.decode().splitlines()
    assert len(lines) == 1 and b"Traceback" not in proc.stderr
    assert lines[0].startswith(f"openai-bridge: {name}={value!r} is not valid: expected ")


def test_cli_refuses_an_endpoint_url_with_the_base_url_to_use():
    proc = run_cli({"REMOTE_OPENAI_BASE_URL": "http://h:8000/v1/chat/completions"})
    assert (proc.returncode, proc.stdout) == (2, b"")
    assert proc.stderr.decode().splitlines() == [
        "openai-bridge: REMOTE_OPENAI_BASE_URL='http://h:8000/v1/chat/completions' is not valid: expected the base "
        "URL, without /chat/completions (the bridge adds it): 'http://h:8000/v1'"]
