"""Native Responses upstreams: the real `openai` SDK through the real bridge, in front of a scripted upstream that
is chat-only (its `/responses` answers 404), serves well-formed Responses (the bridge's own golden stream, which
follows OpenAI's grammar), or serves llama.cpp's defective ones (tests/cases_native/); in modes auto, chat and
responses, streamed and not."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import openai
import pytest
from openai import OpenAI

from openai_bridge.settings import Settings, Timeouts
from openai_bridge.testing import ScriptedUpstream, running_bridge
from openai_bridge.testing import scripted as s
from tests.test_golden import sse_events
from tests.translate.test_native_golden import CASES as NATIVE

GOLDEN = Path(__file__).resolve().parents[1] / "cases" / "up_text_stop"
WELL_FORMED = sse_events((GOLDEN / "events.sse").read_bytes())  # "Hello, world!" in OpenAI's grammar
WELL_FORMED_JSON = json.loads((GOLDEN / "response.json").read_text())
LLAMA_TEXT = "Hello, welcome to my little corner of the world."
RESPONSES, CHAT = "/v1/responses", "/v1/chat/completions"
KEY = "sk-upstream-key-123456"


@contextmanager
def bridge(mode: str) -> Iterator[tuple[OpenAI, ScriptedUpstream]]:
    with ScriptedUpstream() as upstream:
        settings = Settings(upstream=upstream.base_url, api_key=KEY, default_model="m", upstream_mode=mode,
                            keepalive=0.2, timeouts=Timeouts(connect=2.0, first_byte=2.0, idle=1.0))
        with running_bridge(settings) as url, \
                OpenAI(base_url=url + "/v1", api_key="client-key", max_retries=0, timeout=10) as client:
            yield client, upstream


def paths(upstream: ScriptedUpstream) -> list[str]:
    return [r.path for r in upstream.requests if r.method == "POST"]


def well_formed_stream() -> s.SSE:
    return s.responses_sse(WELL_FORMED)


def llamacpp(name: str = "llamacpp_text", *, stream: bool) -> s.SSE | s.Json:
    case = NATIVE / name
    if stream:
        return s.SSE(((case / "upstream.sse").read_bytes(),), done=False)
    return s.json(json.loads((case / "upstream.json").read_text()))


def read_stream(client: OpenAI, **kw: Any) -> tuple[list[Any], Any]:
    with client.responses.stream(model=kw.pop("model", "my-model"), input=kw.pop("input", "Hi"), **kw) as stream:
        events = list(stream)
    return events, events[-1].response


def text_of(events: list[Any]) -> str:
    return "".join(e.delta for e in events if e.type == "response.output_text.delta")


# ---- a chat-only upstream ---------------------------------------------------------------------------------


@pytest.mark.parametrize("streaming", [True, False])
def test_auto_tries_responses_once_then_goes_through_chat(streaming: bool, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, "openai_bridge")
    with bridge("auto") as (client, upstream):
        upstream.push(s.answer("Hello there"), s.answer("Again"))
        for expected in ("Hello there", "Again"):
            if streaming:
                events, final = read_stream(client)
                assert text_of(events) == expected and final.status == "completed"
            else:
                assert client.responses.create(model="my-model", input="Hi").output_text == expected
        # the first request went to /responses (404: nothing generated), then the same request through chat;
        # the second went straight to chat
        assert paths(upstream) == [RESPONSES, CHAT, CHAT]
        asked = {"model": "my-model", "input": "Hi", **({"stream": True} if streaming else {})}
        assert upstream.requests[0].body == asked
    learnt = [r.getMessage() for r in caplog.records if "served through chat completions" in r.getMessage()]
    assert len(learnt) == 1 and "POST /responses answered 404" in learnt[0] and "model my-model" in learnt[0]


def test_auto_a_previous_response_neither_the_upstream_nor_the_bridge_keeps_is_refused_after_the_fallback():
    with bridge("auto") as (client, upstream):
        with pytest.raises(openai.BadRequestError) as err:
            client.responses.create(model="my-model", input="Hi", previous_response_id="resp_1")
        assert (err.value.body["param"], err.value.body["code"]) == ("previous_response_id",
                                                                     "previous_response_not_found")
        assert paths(upstream) == [RESPONSES]


@pytest.mark.parametrize("streaming", [True, False])
def test_chat_mode_never_tries_responses(streaming: bool):
    with bridge("chat") as (client, upstream):
        upstream.push_responses(well_formed_stream() if streaming else s.json(WELL_FORMED_JSON))
        upstream.push(s.answer("Through chat"))
        if streaming:
            assert text_of(read_stream(client)[0]) == "Through chat"
        else:
            assert client.responses.create(model="my-model", input="Hi").output_text == "Through chat"
        assert paths(upstream) == [CHAT]


@pytest.mark.parametrize("streaming", [True, False])
def test_responses_mode_never_falls_back(streaming: bool):
    with bridge("responses") as (client, upstream):
        with pytest.raises(openai.APIStatusError) as err:
            if streaming:
                read_stream(client)
            else:
                client.responses.create(model="my-model", input="Hi")
        assert err.value.status_code == 502 and err.value.body["code"] == "upstream_not_found"
        assert paths(upstream) == [RESPONSES]


# ---- a well-formed native upstream ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["auto", "responses"])
def test_a_well_formed_native_stream_passes_unchanged(mode: str):
    with bridge(mode) as (client, upstream):
        upstream.push_responses(well_formed_stream(), well_formed_stream())
        with client.responses.with_streaming_response.create(
                model="my-model", input="Say hello.", temperature=0.5, stream=True,
                extra_body={"x_unknown": {"kept": [1, 2]}, "store": True}) as raw:
            blob = raw.read()
        frames = [f for f in blob.split(b"\n\n") if f and not f.startswith(b":")]  # keepalives aside
        assert b"\n\n".join(frames) + b"\n\n" == (GOLDEN / "events.sse").read_bytes()  # byte for byte
        events, final = read_stream(client, input="Say hello.")
        assert text_of(events) == final.output_text == "Hello, world!"
        # the client's request, unknown fields and store included, with only the model set (to its own name here)
        sent = upstream.requests[0]
        assert sent.body == {"model": "my-model", "input": "Say hello.", "temperature": 0.5, "stream": True,
                             "x_unknown": {"kept": [1, 2]}, "store": True}
        assert sent.headers["authorization"] == f"Bearer {KEY}"  # the upstream's key, not the client's
        assert paths(upstream) == [RESPONSES, RESPONSES]  # auto learnt: native


def test_a_well_formed_native_answer_passes_unchanged_and_auto_learns_it(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, "openai_bridge")
    with bridge("auto") as (client, upstream):
        upstream.push_responses(s.json(WELL_FORMED_JSON), s.json(WELL_FORMED_JSON))
        for _ in range(2):
            raw = client.responses.with_raw_response.create(model="my-model", input="Say hello.",
                                                           previous_response_id="resp_0",
                                                           extra_body={"conversation_hint": 1})
            # as it came, but for the upstream's null previous_response_id: echoed from the request
            assert json.loads(raw.text) == {**WELL_FORMED_JSON, "previous_response_id": "resp_0"}
        # previous_response_id is the upstream's business: passed on, not refused
        assert upstream.requests[0].body == {"model": "my-model", "input": "Say hello.",
                                             "previous_response_id": "resp_0", "conversation_hint": 1}
        assert paths(upstream) == [RESPONSES, RESPONSES]
    assert any("served through its own /responses" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("streaming", [True, False])
@pytest.mark.parametrize("mode", ["auto", "responses"])
def test_a_native_4xx_passes_through_with_its_status(mode: str, streaming: bool):
    with bridge(mode) as (client, upstream):
        body = s.error_body("The prompt is longer than the context (9000 > 8192 tokens).", param="input",
                            code="context_length_exceeded")
        upstream.push_responses(s.json(body, status=400))
        with pytest.raises(openai.BadRequestError) as err:
            if streaming:
                read_stream(client)
            else:
                client.responses.create(model="my-model", input="Hi")
        assert err.value.status_code == 400 and err.value.body["code"] == "context_length_exceeded"
        assert "longer than the context" in err.value.body["message"]
        assert paths(upstream) == [RESPONSES]  # no fallback: the upstream does serve /responses


@pytest.mark.parametrize("mode", ["auto", "responses"])
def test_a_native_stream_breaking_midway_ends_with_response_failed(mode: str):
    with bridge(mode) as (client, upstream):
        cut = next(i for i, e in enumerate(WELL_FORMED) if e["type"] == "response.output_text.delta") + 1
        upstream.push_responses(s.SSE(well_formed_stream().chunks[:cut], done=False, drop=True))
        events, final = read_stream(client)
        assert events[-1].type == "response.failed" and final.error.code
        assert [e.type for e in events].count("response.failed") == 1
        assert [e.sequence_number for e in events] == list(range(len(events)))
        assert text_of(events) == final.output[0].content[0].text != ""  # what came before the break stands


# ---- llama.cpp's defective native answers ----------------------------------------------------------------


def test_auto_serves_a_defective_stream_repaired_then_goes_through_chat(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, "openai_bridge")
    with bridge("auto") as (client, upstream):
        upstream.push_responses(llamacpp(stream=True))
        upstream.push(s.answer("Now through chat"))
        events, final = read_stream(client, input="Say hello.", max_output_tokens=40, temperature=0)
        assert text_of(events) == LLAMA_TEXT == final.output_text
        assert [e.sequence_number for e in events] == list(range(len(events)))  # the SDK read it: repaired
        assert final.status == "completed" and final.max_output_tokens == 40
        assert text_of(read_stream(client)[0]) == "Now through chat"
        assert paths(upstream) == [RESPONSES, CHAT]
    (learnt,) = [r.getMessage() for r in caplog.records if "served through chat" in r.getMessage()]
    assert "defective (no sequence_number" in learnt and "repaired this one" in learnt


def test_auto_serves_a_defective_answer_repaired_then_goes_through_chat():
    with bridge("auto") as (client, upstream):
        upstream.push_responses(llamacpp("llamacpp_tool_required", stream=False))
        upstream.push(s.answer("Now through chat"))
        case = json.loads((NATIVE / "llamacpp_tool_required" / "request.json").read_text())
        response = client.responses.create(**case)  # the SDK's Response model accepts it: repaired
        assert response.status == "incomplete" and response.incomplete_details.reason == "max_output_tokens"
        assert response.tool_choice == "required" and response.tools[0].name == "get_weather"
        # a verdict is per upstream and model
        assert client.responses.create(model=case["model"], input="Hi").output_text == "Now through chat"
        assert paths(upstream) == [RESPONSES, CHAT]


@pytest.mark.parametrize("name", ["llamacpp_cut_by_max_output_tokens", "older_data_only",
                                  "llamacpp_shape_reasoning_tool_calls"])
def test_responses_mode_keeps_repairing_defective_streams(name: str):
    request = json.loads((NATIVE / name / "request.json").read_text())
    request.pop("stream", None)
    with bridge("responses") as (client, upstream):
        upstream.push_responses(llamacpp(name, stream=True), llamacpp(name, stream=True))
        for _ in range(2):
            events, final = read_stream(client, **request)
            assert [e.sequence_number for e in events] == list(range(len(events)))
            assert events[-1].type in ("response.completed", "response.incomplete")
        assert paths(upstream) == [RESPONSES, RESPONSES]


# ---- state the bridge keeps, in front of a native upstream --------------------------------------------------


def test_auto_a_conversation_or_chain_the_bridge_keeps_goes_through_chat_even_to_a_native_upstream():
    """The upstream serves /responses well (learned), but would not know the bridge's own conversation or
    response ids: requests continuing them go through chat, where the history is rebuilt; others stay native."""
    with bridge("auto") as (client, upstream):
        upstream.push_responses(s.json(WELL_FORMED_JSON))
        assert client.responses.create(model="my-model", input="Hi").output_text == "Hello, world!"
        assert paths(upstream) == [RESPONSES]  # learned: native

        conversation = client.conversations.create(items=[{"type": "message", "role": "user", "content": "Earlier"}])
        upstream.push(s.answer("Through chat"))
        turn = client.responses.create(model="my-model", input="Now", conversation=conversation.id)
        assert turn.output_text == "Through chat" and paths(upstream)[-1] == CHAT
        assert [m["content"] for m in upstream.last.body["messages"]] == ["Earlier", "Now"]
        listed = [i.content[0].text for i in client.conversations.items.list(conversation.id, order="asc")]
        assert listed == ["Earlier", "Now", "Through chat"]

        upstream.push(s.answer("Chained"))
        chained = client.responses.create(model="my-model", input="And then?", previous_response_id=turn.id)
        assert chained.output_text == "Chained" and paths(upstream)[-1] == CHAT

        # An id the bridge does not keep is the upstream's to know.
        upstream.push_responses(s.json(WELL_FORMED_JSON))
        client.responses.create(model="my-model", input="Hi", previous_response_id="resp_the_upstreams_own")
        assert paths(upstream)[-1] == RESPONSES
        assert upstream.requests[-1].body["previous_response_id"] == "resp_the_upstreams_own"
