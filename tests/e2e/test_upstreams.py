"""Several upstreams from a config file, driven by the real `openai` SDK: models routed to each, the model
lists merged, replicas with one of them down, a busy upstream's status and Retry-After, the client's key."""

import logging

import httpx
import openai
import pytest
from openai import OpenAI

from openai_bridge.settings import load
from openai_bridge.testing import ScriptedUpstream, answer, error_body, free_port, json, running_bridge


@pytest.fixture
def two():
    with ScriptedUpstream(models=("alpha",)) as a, ScriptedUpstream(models=("beta", "gamma")) as b:
        yield a, b


def bridge_with(tmp_path, text, env=None):
    path = tmp_path / "bridge.toml"
    path.write_text(text)
    return running_bridge(load(["--config", str(path)], env or {}))


def sdk(url, key="unused"):
    return OpenAI(base_url=url + "/v1", api_key=key, max_retries=0)


def test_models_go_to_their_upstream_and_the_lists_merge(tmp_path, two):
    a, b = two
    config = f"""
[upstreams.a]
base_url = "{a.base_url}"
[upstreams.b]
base_url = "{b.base_url}"
prefix = "b/"
[models.fast]
upstreams = ["b"]
upstream_model = "gamma"
"""
    with bridge_with(tmp_path, config) as url:
        client = sdk(url)
        a.push(answer("from a"))
        b.push(answer("from b"), answer("fast from b"))
        assert client.responses.create(model="alpha", input="hi").output_text == "from a"
        assert client.responses.create(model="b/beta", input="hi").output_text == "from b"
        fast = client.responses.create(model="fast", input="hi")
        assert fast.output_text == "fast from b" and fast.model == "fast"  # the client's name is echoed
        assert a.last.body["model"] == "alpha"
        assert [r.body["model"] for r in b.chat_requests] == ["beta", "gamma"]  # prefix off, alias resolved
        ids = [m.id for m in client.models.list()]
        assert ids == ["alpha", "b/beta", "b/gamma", "fast"]


def test_a_replica_that_is_down_is_left_for_the_other(tmp_path, two, caplog):
    a, _ = two
    dead = f"http://127.0.0.1:{free_port()}"
    config = f"""
[upstreams.down]
base_url = "{dead}"
[upstreams.up]
base_url = "{a.base_url}"
[models.m]
upstreams = ["down", "up"]
"""
    with caplog.at_level(logging.WARNING, "openai_bridge"), bridge_with(tmp_path, config) as url:
        client = sdk(url)
        for i in range(4):
            a.push(answer(f"answer {i}"))
            with client.responses.stream(model="m", input="hi") as stream:
                assert stream.get_final_response().output_text == f"answer {i}"
    assert len(a.chat_requests) == 4
    assert "upstream down failed before answering" in caplog.text and "trying another replica" in caplog.text


def test_a_busy_upstream_keeps_its_status_and_retry_after(tmp_path, two):
    a, _ = two
    a.push(json(error_body("Rate limit reached", type="rate_limit_error"), status=429, headers=[("Retry-After", "20")]))
    with bridge_with(tmp_path, f'[upstreams.a]\nbase_url = "{a.base_url}"\n') as url, \
            pytest.raises(openai.RateLimitError) as caught:
        sdk(url).responses.create(model="m", input="hi")
    assert caught.value.response.headers["retry-after"] == "20"
    assert len(a.chat_requests) == 1  # 20 s is the client's to wait, not the bridge's


def test_a_short_busy_spell_is_waited_out(tmp_path, two):
    a, _ = two
    a.push(json(error_body("Loading model"), status=503, headers=[("Retry-After", "0")]), answer("loaded"))
    with bridge_with(tmp_path, f'[upstreams.a]\nbase_url = "{a.base_url}"\n') as url:
        assert sdk(url).responses.create(model="m", input="hi").output_text == "loaded"
    assert len(a.chat_requests) == 2


@pytest.mark.parametrize("forward", [False, True])
def test_the_client_key_goes_upstream_only_when_forwarding_is_on(tmp_path, two, forward):
    a, _ = two
    a.push(answer("ok"))
    env = {"UPSTREAM_KEY": "bridge-own-key-123", "BRIDGE_FORWARD_CLIENT_KEY": "1" if forward else "0"}
    config = f'[upstreams.a]\nbase_url = "{a.base_url}"\napi_key_env = "UPSTREAM_KEY"\n'
    with bridge_with(tmp_path, config, env) as url:
        sdk(url, key="client-key-456").responses.create(model="m", input="hi")
        httpx.get(url + "/v1/models", headers={"authorization": "Bearer client-key-456"})
    expected = "Bearer client-key-456" if forward else "Bearer bridge-own-key-123"
    assert [r.headers["authorization"] for r in a.requests if r.path.endswith(("/chat/completions", "/models"))] \
        == [expected, expected]
