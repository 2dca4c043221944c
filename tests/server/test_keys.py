"""BRIDGE_API_KEYS: without one of the keys a request is a 401, OpenAI-shaped; /healthz stays open; the
client's key never goes upstream unless forwarding is on."""

import asyncio
from typing import Any

import httpx
import pytest

from openai_bridge.server.app import create_app
from openai_bridge.server.keys import known
from openai_bridge.settings import Settings, SettingsError, load
from openai_bridge.testing import FakeUpstream, answer

KEYS = frozenset({"key-one-1234", "key-two-5678"})


def ask(settings: Settings, method: str, path: str, key: str | None = None, **kw: Any) -> httpx.Response:
    app = create_app(settings, upstream=FakeUpstream(answer("ok")))
    headers = {"authorization": f"Bearer {key}"} if key else {}

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bridge") as client:
            return await client.request(method, path, headers=headers, **kw)

    return asyncio.run(go())


SETTINGS = Settings(default_model="m", reasoning_key="k", store="memory", api_keys=KEYS)


@pytest.mark.parametrize("key", [None, "wrong", "key-one-123", "key-one-12345", "Bearer"])
def test_a_request_without_a_valid_key_is_a_401(key):
    r = ask(SETTINGS, "POST", "/v1/responses", key, json={"input": "hi"})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_api_key" and r.headers["x-request-id"]
    assert ask(SETTINGS, "GET", "/v1/models", key).status_code == 401


@pytest.mark.parametrize("key", sorted(KEYS))
def test_each_key_is_let_in(key):
    r = ask(SETTINGS, "POST", "/v1/responses", key, json={"input": "hi"})
    assert r.status_code == 200 and r.json()["output"][0]["content"][0]["text"] == "ok"


def test_health_checks_need_no_key():
    assert ask(SETTINGS, "GET", "/healthz").status_code == 200


def test_without_keys_nothing_is_asked():
    settings = Settings(default_model="m", reasoning_key="k", store="memory")
    assert ask(settings, "POST", "/v1/responses", json={"input": "hi"}) \
        .status_code == 200


def test_the_clients_key_is_not_sent_upstream():
    fake = FakeUpstream(answer("ok"))
    app = create_app(SETTINGS, upstream=fake)

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bridge") as client:
            await client.post("/v1/responses", json={"input": "hi"}, headers={"authorization": "Bearer key-one-1234"})

    asyncio.run(go())
    assert fake.keys == []  # with_key never called: the upstream's own key (or none) is used


def test_keys_compare_whole():
    assert known("key-one-1234", KEYS) and not known("key-one-123", KEYS) and not known(None, KEYS)


def test_keys_from_a_file(tmp_path):
    path = tmp_path / "keys"
    path.write_text("# clients\nkey-a\n\n  key-b  \n")
    assert load([], {"BRIDGE_API_KEYS": f"@{path}"}).api_keys == {"key-a", "key-b"}
    assert load([], {"BRIDGE_API_KEYS": "k1, k2,"}).api_keys == {"k1", "k2"}
    with pytest.raises(SettingsError, match="BRIDGE_API_KEYS: cannot read /nonexistent"):
        load([], {"BRIDGE_API_KEYS": "@/nonexistent"})
    with pytest.raises(SettingsError) as caught:
        load([], {"BRIDGE_API_KEYS": ", ,"})
    assert "names no key" in str(caught.value)
