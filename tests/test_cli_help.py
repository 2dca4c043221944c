"""`openai-bridge --help` is the settings reference; `--version`; the other ways to start the bridge."""

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from openai_bridge import __version__
from openai_bridge.settings import SOURCES, default_of

ROOT = Path(__file__).resolve().parents[1]


def run(*args, cwd=ROOT):
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def help_text():
    return run("-m", "openai_bridge.cli", "--help")


def test_help_names_every_setting_with_its_flag_default_and_values(help_text):
    flat = " ".join(help_text.split())  # argparse wraps long help lines
    for src in SOURCES:
        assert src.env in flat
        if src.flag:
            assert f"{src.flag} {src.path[-1].upper()}" in flat
        assert f"default: {default_of(src)}" in flat
        assert " ".join(src.allowed.split()) in flat


def test_help_has_the_settings_newcomers_missed(help_text):
    # The ones a user looked for in vain in an earlier --help, and the upstream's default.
    for name in ("REMOTE_OPENAI_API_KEY", "BRIDGE_UPSTREAM_TIMEOUT", "BRIDGE_UPSTREAM_IDLE_TIMEOUT",
                 "BRIDGE_UPSTREAM_CONNECT_TIMEOUT", "BRIDGE_STRICT", "BRIDGE_INSTRUCTIONS_ROLE",
                 "BRIDGE_DEVELOPER_ROLE", "BRIDGE_PASSTHROUGH", "BRIDGE_REASONING_KEY", "BRIDGE_STATE_DIR"):
        assert name in help_text
    assert "default: http://127.0.0.1:8000/v1" in " ".join(help_text.split())
    assert "openai-bridge probe --help" in " ".join(help_text.split())  # the first thing to run when stuck


def test_defaults_shown_are_the_real_ones():
    shown = {src.env: default_of(src) for src in SOURCES}
    assert shown["BRIDGE_PORT"] == "8099"
    assert shown["BRIDGE_UPSTREAM_TIMEOUT"] == "600"
    assert shown["BRIDGE_THINK_TAGS"] == "1"
    assert shown["BRIDGE_STRICT"] == "0"
    assert shown["BRIDGE_MAX_TOKENS_FIELD"] == "max_tokens"
    assert shown["REMOTE_OPENAI_API_KEY"] == "none"


def test_version_is_the_package_version():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert __version__ == project["version"]
    assert run("-m", "openai_bridge.cli", "--version").strip() == f"openai-bridge {__version__}"


@pytest.mark.parametrize("command", [["-m", "openai_bridge"], ["main.py"]], ids=["python -m", "main.py"])
def test_other_ways_to_start_are_the_same_command(command):
    assert run(*command, "--version").strip() == f"openai-bridge {__version__}"
    assert "BRIDGE_STATE_DIR" in run(*command, "--help")
