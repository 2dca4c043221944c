"""Stateless clients (Codex: store false, include reasoning.encrypted_content) carry reasoning for us."""

from __future__ import annotations

import httpx
from openai import OpenAI

from openai_bridge.settings import Settings, Timeouts
from openai_bridge.testing import ScriptedUpstream, running_bridge
from openai_bridge.testing import scripted as s
from openai_bridge.translate import Options
from tests.support.conformance import Recorder

INCLUDE = ["reasoning.encrypted_content"]


def _turn_two(first_output: list[dict]) -> list[dict]:
    return [{"role": "user", "content": "2+2?"}, *first_output, {"role": "user", "content": "and 3+3?"}]


def _reasoning_item(response: dict) -> dict:
    return next(item for item in response["output"] if item["type"] == "reasoning")


def test_sealed_reasoning_round_trip_is_sent_back_as_reasoning_content(conformance: Recorder):
    with ScriptedUpstream() as up:
        config = Settings(upstream=up.base_url, default_model="m",
                        translate=Options(reasoning_back="reasoning_content"), timeouts=Timeouts(first_byte=5))
        with running_bridge(config, wrap=conformance.wrap) as url:
            up.push(s.answer("4", reasoning_content="two plus two is four"))
            first = httpx.post(url + "/v1/responses", json={"input": "2+2?", "store": False, "include": INCLUDE}).json()
            item = _reasoning_item(first)
            blob = item["encrypted_content"]
            assert blob and "two plus two" not in blob
            assert item["content"] == [{"type": "reasoning_text", "text": "two plus two is four"}]

            # What Codex sends back: the reasoning item with its blob (it drops the readable content).
            history = _turn_two([{**o, "content": []} if o["type"] == "reasoning" else o for o in first["output"]])
            up.push(s.answer("6"))
            second = httpx.post(url + "/v1/responses", json={"input": history, "store": False, "include": INCLUDE})
            assert second.status_code == 200, second.text
            messages = up.last.body["messages"]
            assert messages[1] == {"role": "assistant", "content": "4", "reasoning_content": "two plus two is four"}

            # Tampered: a clear 400 naming the item, and nothing reaches the upstream.
            n = len(up.chat_requests)
            bad = blob[:-6] + ("A" if blob[-6] != "A" else "B") + blob[-5:]
            tampered = _turn_two([{**o, "encrypted_content": bad, "content": []} if o["type"] == "reasoning" else o
                                  for o in first["output"]])
            r = httpx.post(url + "/v1/responses", json={"input": tampered, "store": False, "include": INCLUDE})
            assert r.status_code == 400
            assert r.json()["error"]["param"] == "input[1].encrypted_content"
            assert r.json()["error"]["code"] == "invalid_encrypted_content"
            assert len(up.chat_requests) == n


def test_streamed_reasoning_is_sealed_and_dropped_by_default(bridge_url, upstream):
    import httpx

    upstream.push(s.answer("4", reasoning_content="thinking hard"))
    client = OpenAI(base_url=bridge_url, api_key="x", max_retries=0)
    with client.responses.stream(model="m", input="2+2?", store=False, include=INCLUDE) as stream:
        final = stream.get_final_response()
    reasoning = next(o for o in final.output if o.type == "reasoning")
    assert reasoning.encrypted_content and reasoning.encrypted_content.startswith("obr1:")

    history = _turn_two([o.model_dump(exclude_none=True) for o in final.output])
    upstream.push(s.answer("6"))
    r = httpx.post(bridge_url + "/v1/responses", json={"model": "m", "input": history, "include": INCLUDE})
    assert r.status_code == 200, r.text
    assert upstream.last.body["messages"][1] == {"role": "assistant", "content": "4"}  # default: not sent back


def test_no_blob_unless_asked(bridge_url, upstream):
    upstream.push(s.answer("4", reasoning_content="thinking"))
    r = httpx.post(bridge_url + "/v1/responses", json={"model": "m", "input": "2+2?"}).json()
    assert "encrypted_content" not in _reasoning_item(r)


def test_item_reference_resolves_recent_output_and_404s_otherwise(bridge_url, upstream):
    upstream.push(s.answer("4", reasoning_content="sum"))
    first = httpx.post(bridge_url + "/v1/responses", json={"model": "m", "input": "2+2?"}).json()
    refs = [{"type": "item_reference", "id": o["id"]} for o in first["output"]]
    upstream.push(s.answer("6"))
    r = httpx.post(bridge_url + "/v1/responses",
                   json={"model": "m", "input": [{"role": "user", "content": "2+2?"}, *refs,
                                                 {"role": "user", "content": "3+3?"}]})
    assert r.status_code == 200, r.text
    assert upstream.last.body["messages"][1] == {"role": "assistant", "content": "4"}

    r = httpx.post(bridge_url + "/v1/responses",
                   json={"model": "m", "input": [{"type": "item_reference", "id": "msg_unknown"}]})
    assert r.status_code == 404 and r.json()["error"]["param"] == "input[0].id"

    # store: false leaves nothing behind
    upstream.push(s.answer("ok"))
    third = httpx.post(bridge_url + "/v1/responses", json={"model": "m", "input": "x", "store": False}).json()
    r = httpx.post(bridge_url + "/v1/responses",
                   json={"model": "m", "input": [{"type": "item_reference", "id": third["output"][0]["id"]}]})
    assert r.status_code == 404
