from openai_bridge.cli import parse_args
from openai_bridge.config import from_env, normalize_base_url


def test_base_url_with_or_without_v1():
    assert normalize_base_url("http://localhost:8000") == "http://localhost:8000/v1"
    assert normalize_base_url("http://localhost:8000/") == "http://localhost:8000/v1"
    assert normalize_base_url("http://localhost:8000/v1") == "http://localhost:8000/v1"
    assert normalize_base_url("http://localhost:8000/v1/") == "http://localhost:8000/v1"


def test_defaults():
    cfg = from_env({})
    assert (cfg.host, cfg.port, cfg.workers) == ("127.0.0.1", 8099, 1)
    assert cfg.default_model is None and cfg.api_key is None
    assert cfg.translate.strict is False


def test_env():
    cfg = from_env({
        "REMOTE_OPENAI_BASE_URL": "http://gpu:8000",
        "REMOTE_OPENAI_API_KEY": "sk-x",
        "DEFAULT_MODEL": "llama",
        "BRIDGE_HOST": "0.0.0.0",
        "BRIDGE_PORT": "9000",
        "BRIDGE_STRICT": "1",
        "BRIDGE_UPSTREAM_TIMEOUT": "7",
    })
    assert cfg.upstream == "http://gpu:8000/v1"
    assert cfg.api_key == "sk-x" and cfg.default_model == "llama"
    assert (cfg.host, cfg.port) == ("0.0.0.0", 9000)
    assert cfg.translate.strict is True
    assert cfg.timeouts.first_byte == 7 and cfg.timeouts.idle == 7


def test_cli_flags_override_env(monkeypatch):
    monkeypatch.setenv("BRIDGE_PORT", "9000")
    cfg = parse_args(["--port", "9100", "--host", "0.0.0.0", "--upstream", "http://x:1", "--workers", "2"])
    assert (cfg.port, cfg.host, cfg.upstream, cfg.workers) == (9100, "0.0.0.0", "http://x:1/v1", 2)
