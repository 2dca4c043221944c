"""`POST /v1/chat/completions` with the real `openai` SDK's `client.chat.completions.create`, against the real
bridge over real sockets: translated to a Responses-only upstream (mode `responses`, and mode `auto` learning
it from the upstream's 404 on /chat/completions), and passed through to a chat upstream.

The upstream's Responses answers are the golden cases' (tests/cases_reverse/), as a server sends them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from openai_bridge.settings import Settings
from openai_bridge.testing import ScriptedUpstream, running_bridge
from openai_bridge.testing import scripted as s

CASES = Path(__file__).resolve().parents[1] / "cases_reverse"


def case(name: str, file: str) -> Any:
    path = CASES / name / file
    return path.read_bytes() if path.suffix == ".sse" else json.loads(path.read_text())


def upstream_stream(name: str) -> s.SSE:
    """The case's Responses event stream, byte for byte as captured (or made)."""
    return s.sse([case(name, "upstream_events.sse")], done=False)


def upstream_answer(name: str) -> s.Json:
    return s.json(case(name, "upstream_response.json"))


def client_of(url: str) -> OpenAI:
    return OpenAI(base_url=url + "/v1", api_key="x", max_retries=0, timeout=10)


def responses_requests(up: ScriptedUpstream) -> list[Any]:
    return [r.body for r in up.requests if r.path.endswith("/responses")]


def paths(up: ScriptedUpstream) -> list[str]:
    return [r.path for r in up.requests]


@pytest.fixture(scope="module")
def responses_server() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream() as up:
        yield up


@pytest.fixture(scope="module")
def responses_bridge(responses_server: ScriptedUpstream) -> Iterator[str]:
    with running_bridge(Settings(upstream=responses_server.base_url, upstream_mode="responses")) as url:
        yield url


@pytest.fixture
def up(responses_server: ScriptedUpstream) -> ScriptedUpstream:
    responses_server.reset()
    return responses_server


@pytest.fixture
def client(responses_bridge: str) -> Iterator[OpenAI]:
    with client_of(responses_bridge) as c:
        yield c


# --------------------------------------------------------------------------- translated: mode responses


@pytest.mark.parametrize("asked", [True, False])
def test_text_stream_with_the_usage_chunk_only_when_asked(client: OpenAI, up: ScriptedUpstream, asked: bool):
    name = "text_usage_chunk_asked" if asked else "text_usage_chunk_not_asked"
    request = case(name, "request.json")
    up.push_responses(upstream_stream(name))
    chunks = list(client.chat.completions.create(**request))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "The capital of France is Paris."
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert {c.model for c in chunks} == {"gpt-5-mini"} and len({c.id for c in chunks}) == 1
    usage_chunks = [c for c in chunks if not c.choices]
    if asked:
        assert usage_chunks == [chunks[-1]]
        assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 21
        assert chunks[-1].usage.completion_tokens == 8
    else:
        assert usage_chunks == [] and all(c.usage is None for c in chunks)
    # What went up is the translator's golden Responses request (store false, a developer message kept).
    assert responses_requests(up) == [case(name, "responses_request.json")]
    assert paths(up) == ["/v1/responses"]  # mode responses: /chat/completions is never tried


def test_text_non_stream(client: OpenAI, up: ScriptedUpstream):
    up.push_responses(upstream_answer("llamacpp_plain_text"))
    request = case("llamacpp_plain_text", "request.json")
    expected = case("llamacpp_plain_text", "completion.json")
    completion = client.chat.completions.create(**{**request, "stream": False})
    assert completion.object == "chat.completion" and completion.id.startswith("chatcmpl")
    assert completion.choices[0].message.content == expected["choices"][0]["message"]["content"]
    assert completion.choices[0].finish_reason == expected["choices"][0]["finish_reason"]
    assert completion.usage is not None and completion.usage.model_dump(exclude_unset=True) == expected["usage"]
    (sent,) = responses_requests(up)
    assert not sent.get("stream")


def test_reasoning_as_reasoning_content(client: OpenAI, up: ScriptedUpstream):
    request = case("reasoning", "request.json")
    expected = case("reasoning", "completion.json")["choices"][0]["message"]
    up.push_responses(upstream_stream("reasoning"), upstream_answer("reasoning"))

    chunks = list(client.chat.completions.create(**request))
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    # Not a field of the SDK's types: it keeps it in `model_extra`.
    reasoning = "".join((d.model_extra or {}).get("reasoning_content") or "" for d in deltas)
    assert reasoning == expected["reasoning_content"]
    assert "".join(d.content or "" for d in deltas) == expected["content"]
    usage = chunks[-1].usage
    assert usage is not None and usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 14

    completion = client.chat.completions.create(**{**request, "stream": False, "stream_options": None})
    message = completion.choices[0].message
    assert (message.model_extra or {}).get("reasoning_content") == expected["reasoning_content"]
    assert message.content == expected["content"]
    # The reasoning the client sent back went up as a reasoning item before its assistant message.
    sent = responses_requests(up)
    assert sent[0] == case("reasoning", "responses_request.json")
    assert [item["type"] for item in sent[0]["input"]] == ["message", "reasoning", "message", "message"]
    assert sent[0]["reasoning"] == {"effort": "low"}


def test_tool_call_then_follow_up_turn(client: OpenAI, up: ScriptedUpstream):
    request = case("tool_call", "request.json")
    up.push_responses(upstream_stream("tool_call"))
    chunks = list(client.chat.completions.create(**request))
    calls = [call for c in chunks if c.choices for call in c.choices[0].delta.tool_calls or []]
    # The call's id is the upstream's call_id (call_Xk2pQ9), not its item id (fc_...).
    assert [(call.index, call.id, call.function and call.function.name) for call in calls if call.id] == [
        (0, "call_Xk2pQ9", "get_weather")]
    arguments = "".join(call.function.arguments or "" for call in calls if call.function)
    assert json.loads(arguments) == {"city": "Paris"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"

    # The follow-up turn, built from what the SDK gave: the assistant's tool call and the tool's answer.
    follow = case("tool_follow_up", "request.json")
    messages = [request["messages"][0],
                {"role": "assistant", "content": None,
                 "tool_calls": [{"id": "call_Xk2pQ9", "type": "function",
                                 "function": {"name": "get_weather", "arguments": arguments}}]},
                {"role": "tool", "tool_call_id": "call_Xk2pQ9", "content": follow["messages"][2]["content"]}]
    up.push_responses(upstream_stream("tool_follow_up"))
    answer = list(client.chat.completions.create(**{**follow, "messages": messages}))
    expected = case("tool_follow_up", "completion.json")["choices"][0]["message"]["content"]
    assert "".join(c.choices[0].delta.content or "" for c in answer if c.choices) == expected
    items = responses_requests(up)[1]["input"]
    assert [(i["type"], i.get("call_id")) for i in items] == [
        ("message", None), ("function_call", "call_Xk2pQ9"), ("function_call_output", "call_Xk2pQ9")]
    assert items[1]["name"] == "get_weather" and json.loads(items[1]["arguments"]) == {"city": "Paris"}
    assert items[2]["output"] == follow["messages"][2]["content"]


def test_max_tokens_is_max_output_tokens_and_a_cut_answer_says_length(client: OpenAI, up: ScriptedUpstream):
    request = case("max_tokens_length", "request.json")
    up.push_responses(upstream_stream("max_tokens_length"), upstream_answer("max_tokens_length"))
    chunks = list(client.chat.completions.create(**request))
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    completion = client.chat.completions.create(**{**request, "stream": False})
    assert completion.choices[0].finish_reason == "length"
    sent = responses_requests(up)
    assert [r["max_output_tokens"] for r in sent] == [5, 5]
    assert all("max_tokens" not in r for r in sent)


def test_a_failure_mid_stream_is_an_error_object_then_done(responses_bridge: str, up: ScriptedUpstream):
    request = case("upstream_failed", "request.json")
    up.push_responses(upstream_stream("upstream_failed"))
    with httpx.stream("POST", responses_bridge + "/v1/chat/completions", json=request, timeout=10) as r:
        assert r.status_code == 200
        frames = r.read().decode().split("\n\n")
    error = case("upstream_failed", "error.json")["body"]
    assert json.loads(frames[-3].removeprefix("data: ")) == error
    assert frames[-2:] == ["data: [DONE]", ""]
    # The SDK raises it, with the text streamed before it read.
    with client_of(responses_bridge) as client:
        up.push_responses(upstream_stream("upstream_failed"))
        text = []
        with pytest.raises(openai.APIError, match="The model crashed"):
            for c in client.chat.completions.create(**request):
                text += [c.choices[0].delta.content or ""] if c.choices else []
    assert "".join(text) == "Hello"


def test_an_upstream_refusal_keeps_its_status(client: OpenAI, up: ScriptedUpstream):
    up.push_responses(s.json(s.error_body("The prompt is too long.", code="context_length_exceeded"), status=400))
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], stream=True)
    assert err.value.status_code == 400 and err.value.code == "context_length_exceeded"


def test_a_request_the_translation_refuses_is_a_400(client: OpenAI, up: ScriptedUpstream):
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}],
                                       functions=[{"name": "f", "parameters": {}}])
    assert err.value.code == "unsupported_parameter" and up.requests == []


# --------------------------------------------------------------------------- mode auto


@pytest.fixture
def auto() -> Iterator[tuple[ScriptedUpstream, str]]:
    """A fresh upstream and a fresh bridge in mode auto: nothing learned yet."""
    with ScriptedUpstream() as upstream, running_bridge(Settings(upstream=upstream.base_url)) as url:
        yield upstream, url


NO_CHAT_ROUTE = s.json(s.error_body("POST /v1/chat/completions not found", code="not_found"), status=404)


def test_auto_learns_from_a_404_on_chat_that_the_upstream_serves_only_responses(auto: tuple[ScriptedUpstream, str]):
    upstream, url = auto
    upstream.push(NO_CHAT_ROUTE)
    upstream.push_responses(upstream_answer("llamacpp_plain_text"), upstream_stream("text_usage_chunk_asked"),
                            upstream_stream("reasoning"))
    with client_of(url) as client:
        completion = client.chat.completions.create(**{**case("llamacpp_plain_text", "request.json"), "stream": False})
        assert completion.choices[0].message.content == \
            case("llamacpp_plain_text", "completion.json")["choices"][0]["message"]["content"]
        assert paths(upstream) == ["/v1/chat/completions", "/v1/responses"]

        # Learned: the next requests go to /responses at once, streamed too.
        chunks = list(client.chat.completions.create(**case("text_usage_chunk_asked", "request.json")))
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == \
            "The capital of France is Paris."
        assert not chunks[-1].choices and chunks[-1].usage is not None
        chunks = list(client.chat.completions.create(**case("reasoning", "request.json")))
        assert any((c.choices[0].delta.model_extra or {}).get("reasoning_content") for c in chunks if c.choices)
    assert paths(upstream) == ["/v1/chat/completions", "/v1/responses", "/v1/responses", "/v1/responses"]


def test_auto_learns_it_from_a_stream_request_too(auto: tuple[ScriptedUpstream, str]):
    upstream, url = auto
    upstream.push(s.json(b"Method Not Allowed", status=405))
    upstream.push_responses(upstream_stream("tool_call"), upstream_stream("tool_call"))
    with client_of(url) as client:
        for _ in range(2):
            chunks = list(client.chat.completions.create(**case("tool_call", "request.json")))
            ids = [call.id for c in chunks if c.choices for call in c.choices[0].delta.tool_calls or [] if call.id]
            assert ids == ["call_Xk2pQ9"]
    assert paths(upstream) == ["/v1/chat/completions", "/v1/responses", "/v1/responses"]


def test_auto_an_unknown_model_is_not_a_missing_route(auto: tuple[ScriptedUpstream, str]):
    """A 404 about the model is the client's answer (404, the upstream's own error), not a reason to try /responses."""
    upstream, url = auto
    upstream.push(s.json(s.error_body("The model `nope` does not exist.", code="model_not_found"), status=404))
    with client_of(url) as client, pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi"}])
    assert err.value.status_code == 404 and err.value.code == "model_not_found"
    assert paths(upstream) == ["/v1/chat/completions"]


# --------------------------------------------------------------------------- pass-through to a chat upstream


def test_pass_through_keeps_unknown_fields_both_ways(auto: tuple[ScriptedUpstream, str]):
    upstream, url = auto
    answer = {**s.completion("Bonjour", reasoning_content="French, then."), "system_fingerprint": "fp_1",
              "x_vendor": {"cost": 0.25}, "prompt_logprobs": None}
    upstream.push(s.json(answer))
    with client_of(url) as client:
        completion = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}], max_tokens=7, n=2, seed=3,
            extra_body={"top_k": 20, "chat_template_kwargs": {"enable_thinking": False}, "max_tokens": 7})
    sent = upstream.last.body
    assert sent == {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 7, "n": 2, "seed": 3,
                    "top_k": 20, "chat_template_kwargs": {"enable_thinking": False}}
    assert paths(upstream) == ["/v1/chat/completions"]
    assert completion.model_dump(exclude_unset=True) == answer  # the upstream's answer, as it was


def test_pass_through_stream_is_the_upstreams_byte_for_byte(auto: tuple[ScriptedUpstream, str]):
    upstream, url = auto
    # Chunks in shapes a re-serialization would change: spacing, escapes, number formats, unknown fields.
    frames = [b'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant",'
              b'"content":"caf\\u00e9"},"finish_reason":null}], "x_vendor": 1.50e0}\n\n',
              b'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"reasoning":"hm"},'
              b'"finish_reason":null}]}\n\n',
              b'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},'
              b'"finish_reason":"stop"}]}\n\n',
              b'data: {"id":"c1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":3,'
              b'"completion_tokens":2,"total_tokens":5}}\n\n']
    upstream.push(s.sse(frames))
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True,
            "stream_options": {"include_usage": True}, "top_k": 5}
    with httpx.stream("POST", url + "/chat/completions", json=body, timeout=10) as r:  # without /v1 too
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        got = r.read()
    assert got.replace(b": keepalive\n\n", b"") == b"".join(frames) + b"data: [DONE]\n\n"
    assert upstream.last.body == {**body}

    upstream.push(s.sse(frames))
    with client_of(url) as client:
        chunks = list(client.chat.completions.create(**{k: v for k, v in body.items() if k != "top_k"},
                                                     extra_body={"top_k": 5}))
    assert chunks[0].choices[0].delta.content == "café" and (chunks[0].model_extra or {})["x_vendor"] == 1.5
    assert (chunks[1].choices[0].delta.model_extra or {})["reasoning"] == "hm"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 5


def test_pass_through_errors_keep_the_upstreams_status(auto: tuple[ScriptedUpstream, str]):
    upstream, url = auto
    # A long Retry-After: the bridge does not wait it out, the client gets it.
    upstream.push(s.json(s.error_body("Rate limit reached.", type="rate_limit_error", code="rate_limit"), status=429,
                         headers=[("Retry-After", "20")]),
                  s.drop_after([s.chunk(role="assistant", content="Hel")]))
    with client_of(url) as client:
        with pytest.raises(openai.RateLimitError) as err:
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], stream=True)
        assert err.value.status_code == 429 and err.value.code == "rate_limit"
        assert err.value.response.headers["retry-after"] == "20"
    # A stream broken off after it started: what came, then an error object and [DONE].
    with httpx.stream("POST", url + "/v1/chat/completions", timeout=10,
                      json={"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}) as r:
        frames = r.read().decode().replace(": keepalive\n\n", "").split("\n\n")
    assert json.loads(frames[0].removeprefix("data: "))["choices"][0]["delta"]["content"] == "Hel"
    assert json.loads(frames[1].removeprefix("data: "))["error"]["code"] == "upstream_bad_response"
    assert frames[2:] == ["data: [DONE]", ""]


def test_a_client_that_hangs_up_cancels_the_upstream_request(auto: tuple[ScriptedUpstream, str]):
    upstream, url = auto
    upstream.push(s.sse([s.chunk(role="assistant", content="a"), s.pause(30), s.chunk(finish_reason="stop")]))
    with httpx.stream("POST", url + "/v1/chat/completions", timeout=10,
                      json={"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}) as r:
        next(r.iter_bytes())
    assert upstream.disconnected.wait(5)
