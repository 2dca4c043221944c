"""Routing from the config file: which upstream serves a model, under which name, in which dialect."""

from pathlib import Path

import pytest

from openai_bridge.routing import DEFAULT, Router
from openai_bridge.settings import Settings, SettingsError, load
from openai_bridge.testing import FakeUpstream

CONFIG = """
[upstreams.local]
base_url = "http://127.0.0.1:8000"
mode = "chat"

[upstreams.local.translate]
think_tags = "implicit"

[upstreams.ollama]
base_url = "http://127.0.0.1:11434/v1"
prefix = "ollama/"
api_key_env = "OLLAMA_KEY"

[upstreams.ollama.translate]
reasoning_back = "reasoning"

[upstreams.vllm-a]
base_url = "http://10.0.0.1:8000"
mode = "responses"

[upstreams.vllm-b]
base_url = "http://10.0.0.2:8000"

[models.qwen]
upstreams = ["vllm-a", "vllm-b"]
upstream_model = "Qwen/Qwen3-8B"
translate = { max_tokens_field = "max_completion_tokens" }
"""


def settings_from(tmp_path: Path, text: str = CONFIG, **env: str) -> Settings:
    path = tmp_path / "bridge.toml"
    path.write_text(text)
    return load(["--config", str(path)], {"OLLAMA_KEY": "ollama-secret", **env})


def router_for(settings: Settings) -> Router:
    return Router(settings, {u.name: FakeUpstream() for u in settings.upstreams})


def test_config_file_is_read(tmp_path):
    s = settings_from(tmp_path, BRIDGE_UPSTREAM_MODE="auto")
    assert [u.name for u in s.upstreams] == ["local", "ollama", "vllm-a", "vllm-b"]
    assert s.upstreams[0].base_url == "http://127.0.0.1:8000/v1"
    assert s.upstreams[1].api_key == "ollama-secret"  # from the variable api_key_env names
    assert s.models[0].upstreams == ("vllm-a", "vllm-b")


def test_models_route_by_name_then_prefix_then_to_the_first_upstream(tmp_path):
    router = router_for(settings_from(tmp_path))
    qwen = router.route("qwen")
    assert (qwen.name, qwen.model) == ("vllm-a+vllm-b", "Qwen/Qwen3-8B")  # an alias, served by replicas
    ollama = router.route("ollama/llama3.2")
    assert (ollama.name, ollama.model) == ("ollama", "llama3.2")  # the prefix is taken off
    other = router.route("anything-else")
    assert (other.name, other.model) == ("local", "anything-else")


def test_dialect_and_mode_per_upstream_and_model(tmp_path):
    router = router_for(settings_from(tmp_path, BRIDGE_MAX_TOKENS_FIELD="max_tokens", BRIDGE_UPSTREAM_MODE="auto"))
    local, ollama, qwen = router.route("m"), router.route("ollama/x"), router.route("qwen")
    assert local.options.think_tags == "implicit" and local.mode == "chat"
    assert ollama.options.reasoning_back == "reasoning" and ollama.options.think_tags is True
    assert ollama.mode == "auto"  # BRIDGE_UPSTREAM_MODE, as nothing overrides it
    assert qwen.options.max_tokens_field == "max_completion_tokens" and qwen.mode == "responses"  # vllm-a's mode
    assert local.options.max_tokens_field == "max_tokens"


def test_without_a_config_file_one_upstream_serves_every_model():
    settings = Settings(upstream="http://h:1", upstream_mode="chat")
    router = Router(settings, {DEFAULT: FakeUpstream()})
    route = router.route("whatever")
    assert (route.name, route.model, route.mode) == (DEFAULT, "whatever", "chat")


def test_client_key_is_forwarded_only_when_configured():
    fake = FakeUpstream()
    Router(Settings(), {DEFAULT: fake}).route("m", "client-key")
    assert fake.keys == []
    Router(Settings(forward_client_key=True), {DEFAULT: fake}).route("m", "client-key")
    assert fake.keys == ["client-key"]


@pytest.mark.parametrize(("text", "line"), [
    ("[upstreams.a]\nbase_url = 'http://h:1'\n[models.m]\nupstreams = ['b']",
     "models.m.upstreams: no upstream is named 'b'"),
    ("[upstreams.a]\nbase_url = 'http://h:1'\napi_key_env = 'NOT_SET_HERE'",
     "upstreams.a.api_key_env: the variable 'NOT_SET_HERE' is not set"),
    ("[upstreams.a]\nbase_url = 'http://h:1'\ntranslate = { reasoning_back = 'content' }",
     "upstreams.a.translate: Options.reasoning_back must be one of"),
    ("[upstreams.a]\nbase_url = 'http://h:1'\nmode = 'native'", "upstreams.a.mode: Input should be 'auto', 'chat'"),
    ("[upstreams.a]\nbase_url = 'ftp://h'", "upstreams.a.base_url: Value error, not an http"),
    ("[upstreams.a]\nbase_url = 'http://h:1'\nbogus = 1", "upstreams.a.bogus: Extra inputs are not permitted"),
    ("[models.m]\nupstreams = []", "models.m.upstreams: Tuple should have at least 1 item"),
    ("upstreams = 3", "upstreams: expected tables [upstreams.NAME]"),
    ("", "no [upstreams.NAME] table"),
    ("[upstreams.a\n", "not valid TOML"),
])
def test_a_bad_config_file_stops_the_start_with_one_line_per_problem(tmp_path, text, line):
    with pytest.raises(SettingsError) as caught:
        settings_from(tmp_path, text)
    assert line in str(caught.value)
    assert str(caught.value).startswith(f"--config {tmp_path / 'bridge.toml'}: ")


def test_an_unreadable_config_file_is_one_line(tmp_path):
    with pytest.raises(SettingsError, match=r"BRIDGE_CONFIG=/nonexistent/bridge.toml: cannot read it: No such file"):
        load([], {"BRIDGE_CONFIG": "/nonexistent/bridge.toml"})


def test_the_documented_example_is_a_valid_config(tmp_path):
    doc = (Path(__file__).resolve().parents[1] / "docs" / "settings.md").read_text()
    example = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    router = router_for(settings_from(tmp_path, example, VLLM_KEY="vllm-secret"))
    qwen = router.route("qwen")
    assert (qwen.name, qwen.model, qwen.options.max_tokens_field) == ("vllm-a+vllm-b", "Qwen/Qwen3-8B",
                                                                       "max_completion_tokens")
    assert router.route("ollama/qwen3").model == "qwen3"
