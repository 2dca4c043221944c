"""The real `openai` SDK against the real bridge, in front of a scripted chat upstream, over real sockets."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from openai import OpenAI
from pydantic import BaseModel

from openai_bridge.testing import ScriptedUpstream
from openai_bridge.testing import scripted as s

TERMINAL = {"response.completed", "response.incomplete", "response.failed"}
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "strict": False,
}
CALLS = [
    {"id": "call_a", "name": "get_weather", "arguments": '{"city": "Paris"}'},
    {"id": "call_b", "name": "get_weather", "arguments": '{"city": "Tokyo"}'},
]


def check_grammar(events: list) -> None:
    """Sequence numbers 0..n-1, created/in_progress first, exactly one terminal event and it is last."""
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert [e.type for e in events[:2]] == ["response.created", "response.in_progress"]
    assert [e.type for e in events if e.type in TERMINAL] == [events[-1].type]


# --------------------------------------------------------------------------- create


def test_create_sends_chat_request_and_returns_response(client: OpenAI, upstream: ScriptedUpstream):
    upstream.push(s.json(s.completion("Hello there")))
    resp = client.responses.create(model="my-model", input="Hi", instructions="Be brief", temperature=0.5)
    assert resp.status == "completed"
    assert resp.output_text == "Hello there"
    assert resp.model == "my-model"
    assert resp.id.startswith("resp_")
    assert resp.usage is not None and resp.usage.input_tokens == 5 and resp.usage.output_tokens == 7
    assert resp.instructions == "Be brief" and resp.temperature == 0.5

    (sent,) = upstream.chat_requests
    assert sent.method == "POST" and sent.path == "/v1/chat/completions"
    assert sent.headers["content-type"].startswith("application/json")
    assert sent.body["model"] == "my-model"
    assert sent.body["messages"] == [{"role": "system", "content": "Be brief"}, {"role": "user", "content": "Hi"}]
    assert sent.body["temperature"] == 0.5
    assert not sent.body.get("stream")
    assert "stream_options" not in sent.body


def test_default_model_and_base_url_without_v1(bridge_url: str, upstream: ScriptedUpstream):
    with OpenAI(base_url=bridge_url, api_key="x", max_retries=0, timeout=10) as bare:
        resp = bare.responses.create(input="Hi", extra_body={"model": None})
    assert resp.output_text == "ok"
    assert upstream.last.body["model"] == "m"


def test_x_request_id(client: OpenAI, upstream: ScriptedUpstream):
    raw = client.responses.with_raw_response.create(model="m", input="Hi")
    assert raw.headers["x-request-id"]
    raw = client.responses.with_raw_response.create(model="m", input="Hi", extra_headers={"x-request-id": "abc-123"})
    assert raw.headers["x-request-id"] == "abc-123"
    assert raw.parse().output_text == "ok"
    with client.responses.with_streaming_response.create(
        model="m", input="Hi", stream=True, extra_headers={"x-request-id": "stream-1"}
    ) as streamed:
        assert streamed.headers["x-request-id"] == "stream-1"


def test_models_are_the_upstreams(client: OpenAI, upstream: ScriptedUpstream):
    assert [m.id for m in client.models.list()] == ["scripted-model"]


# --------------------------------------------------------------------------- streaming


def test_stream_helper_deltas_and_final_response(client: OpenAI, upstream: ScriptedUpstream):
    upstream.push(s.sse(s.text_chunks("Hel", "lo", " world"), delay=0.01))
    with client.responses.stream(model="m", input="Hi") as stream:
        events = list(stream)
        final = stream.get_final_response()
    check_grammar(events)
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert deltas == ["Hel", "lo", " world"]
    done = [e.text for e in events if e.type == "response.output_text.done"]
    assert done == ["Hello world"]
    assert final.output_text == "Hello world"
    assert final.status == "completed"
    assert final.usage is not None and final.usage.total_tokens == 12
    assert upstream.last.body["stream"] is True
    assert upstream.last.body["stream_options"] == {"include_usage": True}
    assert upstream.last.headers.get("accept") == "text/event-stream"


def test_stream_create_matches_non_stream(client: OpenAI, upstream: ScriptedUpstream):
    upstream.push(s.answer("Same answer", pieces=4), s.answer("Same answer"))
    events = list(client.responses.create(model="m", input="Hi", stream=True))
    check_grammar(events)
    streamed = events[-1].response
    plain = client.responses.create(model="m", input="Hi")
    assert streamed.output_text == plain.output_text == "Same answer"
    assert streamed.status == plain.status == "completed"
    assert [o.type for o in streamed.output] == [o.type for o in plain.output] == ["message"]
    assert streamed.usage == plain.usage


# --------------------------------------------------------------------------- structured output


class Weather(BaseModel):
    city: str
    celsius: float


def test_parse_with_pydantic_text_format(client: OpenAI, upstream: ScriptedUpstream):
    upstream.push(s.json(s.completion('{"city": "Paris", "celsius": 21.5}')))
    resp = client.responses.parse(model="m", input="Weather in Paris?", text_format=Weather)
    assert resp.output_parsed == Weather(city="Paris", celsius=21.5)
    fmt = upstream.last.body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "Weather"
    assert fmt["json_schema"]["strict"] is True
    assert set(fmt["json_schema"]["schema"]["properties"]) == {"city", "celsius"}


def test_stream_with_pydantic_text_format(client: OpenAI, upstream: ScriptedUpstream):
    upstream.push(s.sse(s.text_chunks('{"city": ', '"Oslo", "cel', 'sius": -3}')))
    with client.responses.stream(model="m", input="Weather in Oslo?", text_format=Weather) as stream:
        final = stream.get_final_response()
    assert final.output_parsed == Weather(city="Oslo", celsius=-3)
    assert upstream.last.body["response_format"]["type"] == "json_schema"


# --------------------------------------------------------------------------- tools


def test_parallel_tool_calls_non_stream(client: OpenAI, upstream: ScriptedUpstream):
    upstream.push(s.json(s.completion(None, tool_calls=CALLS)))
    resp = client.responses.create(model="m", input="Weather in Paris and Tokyo?", tools=[WEATHER_TOOL],
                                   tool_choice="auto", parallel_tool_calls=True)
    assert resp.status == "completed"
    calls = [o for o in resp.output if o.type == "function_call"]
    assert [(c.call_id, c.name, json.loads(c.arguments)) for c in calls] == [
        ("call_a", "get_weather", {"city": "Paris"}), ("call_b", "get_weather", {"city": "Tokyo"})]
    assert all(c.id and c.id.startswith("fc_") for c in calls)
    assert resp.output_text == ""
    sent = upstream.last.body
    assert sent["tools"] == [{"type": "function", "function": {
        "name": "get_weather", "description": "Weather in a city", "parameters": WEATHER_TOOL["parameters"],
        "strict": False}}]
    assert sent["tool_choice"] == "auto"
    assert sent["parallel_tool_calls"] is True


def test_parallel_tool_calls_stream(client: OpenAI, upstream: ScriptedUpstream):
    chunks = [s.chunk(role="assistant"), *s.tool_call_chunks(CALLS, pieces=3), s.chunk(finish_reason="tool_calls"),
              s.chunk(usage=s.USAGE, choices=False)]
    upstream.push(s.sse(chunks, delay=0.005))
    with client.responses.stream(model="m", input="Weather?", tools=[WEATHER_TOOL]) as stream:
        events = list(stream)
        final = stream.get_final_response()
    check_grammar(events)
    added = [e.item for e in events if e.type == "response.output_item.added"]
    assert [(i.type, i.call_id) for i in added] == [("function_call", "call_a"), ("function_call", "call_b")]
    for index, call in enumerate(CALLS):
        deltas = "".join(e.delta for e in events
                         if e.type == "response.function_call_arguments.delta" and e.output_index == index)
        assert deltas == call["arguments"]
        (done,) = [e for e in events if e.type == "response.function_call_arguments.done" and e.output_index == index]
        assert done.arguments == call["arguments"]
    assert [(o.type, o.call_id, o.arguments) for o in final.output] == [
        ("function_call", c["id"], c["arguments"]) for c in CALLS]


def test_tool_call_follow_up_turn(client: OpenAI, upstream: ScriptedUpstream):
    upstream.push(s.json(s.completion("Let me check.", tool_calls=CALLS)))
    first = client.responses.create(model="m", input="Weather in Paris and Tokyo?", tools=[WEATHER_TOOL])
    assert first.output_text == "Let me check."
    calls = [o for o in first.output if o.type == "function_call"]
    assert len(calls) == 2

    upstream.push(s.json(s.completion("Paris 21, Tokyo 25.")))
    history = [{"role": "user", "content": "Weather in Paris and Tokyo?"}]
    history += [o.model_dump(exclude_none=True) for o in first.output]
    history += [{"type": "function_call_output", "call_id": c.call_id, "output": f"sunny in {i}"}
                for i, c in enumerate(calls)]
    second = client.responses.create(model="m", input=history, tools=[WEATHER_TOOL])
    assert second.output_text == "Paris 21, Tokyo 25."

    messages = upstream.last.body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "tool"]
    assistant = messages[1]
    assert assistant["content"] == "Let me check."
    assert [(t["id"], t["type"], t["function"]["name"], t["function"]["arguments"])
            for t in assistant["tool_calls"]] == [(c["id"], "function", c["name"], c["arguments"]) for c in CALLS]
    assert [(m["tool_call_id"], m["content"]) for m in messages[2:]] == [("call_a", "sunny in 0"),
                                                                         ("call_b", "sunny in 1")]


# --------------------------------------------------------------------------- reasoning

REASONING_STREAMS = {
    "reasoning_content": [s.chunk(reasoning_content="Let me "), s.chunk(reasoning_content="think"),
                          s.chunk("Answer")],
    "reasoning": [s.chunk(reasoning="Let me "), s.chunk(reasoning="think"), s.chunk("Answer")],
    "think_tags": [s.chunk("<thi"), s.chunk("nk>Let me "), s.chunk("think</th"), s.chunk("ink>"),
                   s.chunk("Answer")],
}


@pytest.mark.parametrize("form", sorted(REASONING_STREAMS))
def test_reasoning_stream(client: OpenAI, upstream: ScriptedUpstream, form: str):
    chunks = [s.chunk(role="assistant"), *REASONING_STREAMS[form], s.chunk(finish_reason="stop")]
    upstream.push(s.sse(chunks, delay=0.005))
    with client.responses.stream(model="m", input="Hi") as stream:
        events = list(stream)
        final = stream.get_final_response()
    check_grammar(events)
    reasoning = "".join(e.delta for e in events if e.type == "response.reasoning_text.delta")
    assert reasoning == "Let me think"
    assert [e.text for e in events if e.type == "response.reasoning_text.done"] == ["Let me think"]
    assert [o.type for o in final.output] == ["reasoning", "message"]
    assert final.output[0].content[0].text == "Let me think"
    assert final.output_text == "Answer"
    indices = {e.item.type: e.output_index for e in events if e.type == "response.output_item.added"}
    assert indices == {"reasoning": 0, "message": 1}


@pytest.mark.parametrize("form", ["reasoning_content", "reasoning", "think_tags"])
def test_reasoning_non_stream(client: OpenAI, upstream: ScriptedUpstream, form: str):
    if form == "think_tags":
        body = s.completion("<think>Let me think</think>Answer")
    else:
        body = s.completion("Answer", **{form: "Let me think"})
    upstream.push(s.json(body))
    resp = client.responses.create(model="m", input="Hi")
    assert [o.type for o in resp.output] == ["reasoning", "message"]
    assert resp.output[0].content[0].text == "Let me think"
    assert resp.output_text == "Answer"


# --------------------------------------------------------------------------- finish_reason length


def test_length_non_stream_is_incomplete_with_text(client: OpenAI, upstream: ScriptedUpstream):
    upstream.push(s.json(s.completion("Cut sho", finish_reason="length")))
    resp = client.responses.create(model="m", input="Hi", max_output_tokens=3)
    assert resp.status == "incomplete"
    assert resp.incomplete_details is not None and resp.incomplete_details.reason == "max_output_tokens"
    assert resp.output_text == "Cut sho"
    assert upstream.last.body["max_tokens"] == 3


def test_length_stream_is_incomplete_with_text(client: OpenAI, upstream: ScriptedUpstream):
    upstream.push(s.sse(s.text_chunks("Cut", " sho", finish_reason="length")))
    events = list(client.responses.create(model="m", input="Hi", max_output_tokens=3, stream=True))
    check_grammar(events)
    assert events[-1].type == "response.incomplete"
    final = events[-1].response
    assert final.status == "incomplete"
    assert final.incomplete_details is not None and final.incomplete_details.reason == "max_output_tokens"
    assert final.output_text == "Cut sho"


def test_content_filter_is_incomplete(client: OpenAI, upstream: ScriptedUpstream):
    upstream.push(s.json(s.completion("I can", finish_reason="content_filter")))
    resp = client.responses.create(model="m", input="Hi")
    assert resp.status == "incomplete"
    assert resp.incomplete_details is not None and resp.incomplete_details.reason == "content_filter"
    assert resp.output_text == "I can"


# --------------------------------------------------------------------------- wire behaviour

ECHOED = ("instructions", "tools", "tool_choice", "temperature", "top_p", "presence_penalty", "frequency_penalty",
          "top_logprobs", "parallel_tool_calls", "text", "reasoning", "metadata", "store", "background",
          "service_tier", "truncation")


def _normalized(response: dict) -> dict:
    """A Response object without what differs between two runs (ids and timestamps)."""
    out = {k: v for k, v in response.items() if k not in ("id", "created_at", "completed_at")}
    out["output"] = [{k: v for k, v in item.items() if k != "id"} for item in response["output"]]
    return out


def test_stream_final_object_equals_non_stream_response(bridge_url: str, upstream: ScriptedUpstream):
    answer = s.answer("The answer.", reasoning_content="Thinking it over.", tool_calls=CALLS[:1], pieces=4)
    upstream.push(answer, answer)
    request = {"model": "m", "input": "Hi", "tools": [WEATHER_TOOL], "instructions": "Be kind"}
    with httpx.Client(base_url=bridge_url, timeout=10) as http:
        plain = http.post("/v1/responses", json=request).json()
        with http.stream("POST", "/v1/responses", json={**request, "stream": True}) as resp:
            data = [json.loads(line[6:]) for line in resp.iter_lines() if line.startswith("data: ")]
    final = data[-1]["response"]
    assert data[-1]["type"] == "response.completed"
    assert [o["type"] for o in plain["output"]] == ["reasoning", "message", "function_call"]
    assert _normalized(final) == _normalized(plain)
    for name in ECHOED:
        assert name in plain, name
    for name in ("tools", "tool_choice", "temperature", "top_p", "parallel_tool_calls", "text", "store",
                 "truncation", "reasoning"):
        assert plain[name] is not None, name
    assert plain["usage"]["input_tokens_details"]["cached_tokens"] == 0
    assert plain["usage"]["output_tokens_details"]["reasoning_tokens"] == 0


def test_deltas_are_flushed_as_they_arrive(client: OpenAI, upstream: ScriptedUpstream):
    chunks = s.text_chunks("first", " second")
    upstream.push(s.sse([*chunks[:2], s.pause(0.3), *chunks[2:]]))
    seen: dict[str, float] = {}
    started = time.monotonic()
    for event in client.responses.create(model="m", input="Hi", stream=True):
        seen.setdefault(event.type if event.type != "response.output_text.delta" else event.delta,
                        time.monotonic() - started)
    assert seen["response.created"] < 0.2
    assert seen[" second"] - seen["first"] >= 0.25
