"""The conformance check every bridge of the suite runs under (tests/conftest.py) catches what clients choke
on; and the bridge echoes what OpenAI echoes."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson

from openai_bridge.server.app import create_app
from openai_bridge.settings import Settings
from openai_bridge.testing import FakeUpstream
from tests.support.conformance import Recorder, event_problems, response_problems


def post(body: dict[str, Any], conformance: Recorder | None = None) -> tuple[httpx.Response, FakeUpstream]:
    upstream = FakeUpstream()
    app = create_app(Settings(default_model="m", reasoning_key="k", store="memory"), upstream=upstream)
    wrapped = conformance.wrap(app) if conformance is not None else app

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=wrapped), base_url="http://b") as client:
            return await client.post("/v1/responses", json=body)

    resp = asyncio.run(go())
    assert resp.status_code == 200, resp.text
    return resp, upstream


def answer(body: dict[str, Any]) -> tuple[dict[str, Any], FakeUpstream]:
    resp, upstream = post(body)
    return resp.json(), upstream


def test_the_check_catches_missing_and_null_fields():
    good, _ = answer({"input": "hi", "tools": [{"type": "function", "name": "f"}]})
    assert response_problems(good) == []
    for broken, expected in [
        ({**good, "temperature": None}, "response.temperature is null"),
        ({k: v for k, v in good.items() if k != "top_p"}, "response.top_p is missing"),
        ({k: v for k, v in good.items() if k != "previous_response_id"}, "response.previous_response_id is missing"),
        ({**good, "parallel_tool_calls": 1}, "response.parallel_tool_calls is int"),
        ({**good, "tools": [{"type": "function", "name": "f"}]}, "response.tools[0].strict is missing"),
        ({**good, "usage": None}, "response.usage is None in a completed response"),
        ({**good, "output": [{**good["output"][0], "status": None}]}, "response.output[0](message).status is null"),
    ]:
        assert any(p.startswith(expected) for p in response_problems(broken)), expected
    delta = {"type": "response.output_text.delta", "sequence_number": 3, "item_id": "m", "output_index": 0,
             "content_index": 0, "delta": "a"}
    assert event_problems({**delta, "logprobs": []}) == []
    assert event_problems(delta) == ["event 3 (response.output_text.delta).logprobs is missing"]


def test_the_recorder_checks_answers_and_streams():
    rec = Recorder()
    post({"input": "hi"}, rec)
    post({"input": "hi", "stream": True}, rec)
    assert rec.checked == 2 and rec.problems == []


def test_function_tools_echo_a_boolean_strict_true_by_default():
    tools = [{"type": "function", "name": "a"}, {"type": "function", "name": "b", "strict": False},
             {"type": "function", "name": "c", "strict": None},
             {"type": "namespace", "name": "ns", "description": "d", "tools": [{"type": "function", "name": "d"}]}]
    response, upstream = answer({"input": "hi", "tools": tools})
    echoed = response["tools"]
    assert [t["strict"] for t in echoed[:3]] == [True, False, True]
    assert echoed[3]["tools"][0]["strict"] is True
    assert "strict" not in chat_calls(upstream)[0]["tools"][0]["function"]  # what the upstream is sent is unchanged


def test_penalties_are_sent_upstream_and_echoed_as_sent():
    response, upstream = answer({"input": "hi", "presence_penalty": 0.5, "frequency_penalty": -1})
    assert (response["presence_penalty"], response["frequency_penalty"]) == (0.5, -1)
    sent = chat_calls(upstream)[0]
    assert (sent["presence_penalty"], sent["frequency_penalty"]) == (0.5, -1)
    default, _ = answer({"input": "hi"})
    assert (default["presence_penalty"], default["frequency_penalty"]) == (0.0, 0.0)
    assert orjson.dumps(default["presence_penalty"]) == b"0.0"


def chat_calls(upstream: FakeUpstream) -> list[Any]:
    """The chat requests the bridge sent (in auto mode a first attempt went to /responses, answered 404)."""
    return [body for method, body in upstream.calls if method.startswith("chat")]
