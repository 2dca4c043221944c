"""The OpenAI Agents SDK (`openai-agents`) against the real bridge, in front of a scripted chat upstream.

The SDK drives its own loop (tool calls, handoffs, structured output); each test asserts the
SDK's own result, and what reached the upstream.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest
from agents import Agent, OpenAIResponsesModel, Runner, function_tool, set_tracing_disabled
from openai import AsyncOpenAI
from openai.types.responses import ResponseTextDeltaEvent
from pydantic import BaseModel

from openai_bridge.testing import ScriptedUpstream
from openai_bridge.testing import scripted as s
from tests.clients.conftest import Recorder

set_tracing_disabled(True)
T = TypeVar("T")
Run = Callable[[Awaitable[Any]], Any]


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """One event loop per test: the SDK's client lives in it from first request to close."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture
def run(loop: asyncio.AbstractEventLoop) -> Callable[[Awaitable[T]], T]:
    return loop.run_until_complete


@pytest.fixture
def model(bridge_url: str, run: Run) -> Iterator[OpenAIResponsesModel]:
    client = AsyncOpenAI(base_url=bridge_url + "/v1", api_key="x", max_retries=0, timeout=10)
    yield OpenAIResponsesModel(model="agent-model", openai_client=client)
    run(client.close())


@function_tool
def get_weather(city: str) -> str:
    """Current weather in a city.

    Args:
        city: The city's name.
    """
    return f"Sunny and 21C in {city}"


def test_function_tool_round_trip(model: OpenAIResponsesModel, run: Run, upstream: ScriptedUpstream,
                                  recorder: Recorder):
    call = {"id": "call_w1", "name": "get_weather", "arguments": '{"city": "Paris"}'}
    upstream.push(s.json(s.completion(None, tool_calls=[call])), s.json(s.completion("It is sunny in Paris.")))
    agent = Agent(name="Weather", instructions="Answer weather questions.", model=model, tools=[get_weather])

    result = run(Runner.run(agent, "Weather in Paris?"))

    assert result.final_output == "It is sunny in Paris."
    usage = result.context_wrapper.usage
    assert (usage.requests, usage.input_tokens, usage.output_tokens) == (2, 10, 14)
    first, second = upstream.chat_requests
    assert first.body["model"] == "agent-model"
    assert first.body["messages"] == [{"role": "system", "content": "Answer weather questions."},
                                      {"role": "user", "content": "Weather in Paris?"}]
    (tool,) = first.body["tools"]
    assert tool["type"] == "function" and tool["function"]["name"] == "get_weather"
    assert tool["function"]["parameters"]["properties"]["city"]["type"] == "string"
    # Turn 2: the whole history, with the call and the SDK's tool result.
    assert second.body["messages"] == [
        {"role": "system", "content": "Answer weather questions."},
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_w1", "type": "function", "function": {"name": "get_weather",
                                                                "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_w1", "content": "Sunny and 21C in Paris"},
    ]
    assert len(recorder.bodies) == 2


def test_handoff_to_another_agent(model: OpenAIResponsesModel, run: Run, upstream: ScriptedUpstream):
    billing = Agent(name="Billing", instructions="You handle billing.", model=model)
    triage = Agent(name="Triage", instructions="Route the user.", model=model, handoffs=[billing])
    upstream.push(
        s.json(s.completion(None, tool_calls=[{"id": "call_h1", "name": "transfer_to_billing", "arguments": "{}"}])),
        s.json(s.completion("Your invoice is on its way.")),
    )

    result = run(Runner.run(triage, "Where is my invoice?"))

    assert result.last_agent is billing
    assert result.final_output == "Your invoice is on its way."
    first, second = upstream.chat_requests
    assert [t["function"]["name"] for t in first.body["tools"]] == ["transfer_to_billing"]
    assert second.body["messages"][0] == {"role": "system", "content": "You handle billing."}
    tool_messages = [m for m in second.body["messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_messages] == ["call_h1"]
    assert "Billing" in tool_messages[0]["content"]


def test_run_streamed_text_deltas(model: OpenAIResponsesModel, run: Run, upstream: ScriptedUpstream):
    upstream.push(s.sse(s.text_chunks("Once ", "upon ", "a time."), delay=0.005))
    agent = Agent(name="Teller", instructions="Tell stories.", model=model)

    async def stream() -> tuple[list[str], Any]:
        result = Runner.run_streamed(agent, "A story, please.")
        deltas = [event.data.delta async for event in result.stream_events()
                  if event.type == "raw_response_event" and isinstance(event.data, ResponseTextDeltaEvent)]
        return deltas, result

    deltas, result = run(stream())

    assert deltas == ["Once ", "upon ", "a time."]
    assert "".join(deltas) == result.final_output == "Once upon a time."
    assert upstream.last.body["stream"] is True


class Forecast(BaseModel):
    city: str
    celsius: float
    rain: bool


def test_structured_output_type(model: OpenAIResponsesModel, run: Run, upstream: ScriptedUpstream):
    upstream.push(s.json(s.completion('{"city": "Oslo", "celsius": -3.5, "rain": false}')))
    agent = Agent(name="Forecaster", instructions="Forecast.", model=model, output_type=Forecast)

    result = run(Runner.run(agent, "Oslo tomorrow?"))

    assert result.final_output == Forecast(city="Oslo", celsius=-3.5, rain=False)
    fmt = upstream.last.body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["strict"] is True
    schema = fmt["json_schema"]["schema"]
    assert set(schema["properties"]) == {"city", "celsius", "rain"}
    assert schema["additionalProperties"] is False


def test_run_streamed_tool_call_with_reasoning(model: OpenAIResponsesModel, run: Run, upstream: ScriptedUpstream,
                                              recorder: Recorder):
    call = {"id": "call_w2", "name": "get_weather", "arguments": '{"city": "Rome"}'}
    upstream.push(s.answer(None, reasoning_content="I need the weather tool.", tool_calls=[call]),
                  s.answer("Rome is sunny.", reasoning_content="The tool answered."))
    agent = Agent(name="Weather", instructions="Answer weather questions.", model=model, tools=[get_weather])

    async def stream() -> tuple[list[str], Any]:
        result = Runner.run_streamed(agent, "Weather in Rome?")
        kinds = [event.item.type async for event in result.stream_events() if event.type == "run_item_stream_event"]
        return kinds, result

    kinds, result = run(stream())

    assert result.final_output == "Rome is sunny."
    assert kinds == ["reasoning_item", "tool_call_item", "tool_call_output_item", "reasoning_item",
                     "message_output_item"]
    reasoning = result.new_items[0].raw_item
    assert [c.text for c in reasoning.content or []] == ["I need the weather tool."]
    # Turn 2: the SDK sends the reasoning item back; the chat upstream gets the call and its result.
    assert [i.get("type") for i in recorder.bodies[1]["input"]] == [None, "reasoning", "function_call",
                                                                    "function_call_output"]
    messages = upstream.last.body["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool"]
    assert messages[3] == {"role": "tool", "tool_call_id": "call_w2", "content": "Sunny and 21C in Rome"}


# ---- server-managed history: the bridge keeps it ------------------------------------------------------------

WEATHER_CALL = {"id": "call_w1", "name": "get_weather", "arguments": '{"city": "Paris"}'}
WEATHER_HISTORY = [
    {"role": "system", "content": "Answer weather questions."},
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_w1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
    {"role": "tool", "tool_call_id": "call_w1", "content": "Sunny and 21C in Paris"},
]


def test_auto_previous_response_id_sends_only_new_items_and_the_bridge_rebuilds_the_history(
        model: OpenAIResponsesModel, run: Run, upstream: ScriptedUpstream, recorder: Recorder):
    """`auto_previous_response_id=True`: the SDK's second model call carries `previous_response_id` and only the
    tool's output; the chat upstream still gets the whole conversation."""
    upstream.push(s.json(s.completion(None, tool_calls=[WEATHER_CALL])), s.json(s.completion("Sunny in Paris.")))
    agent = Agent(name="Weather", instructions="Answer weather questions.", model=model, tools=[get_weather])

    result = run(Runner.run(agent, "Weather in Paris?", auto_previous_response_id=True))

    assert result.final_output == "Sunny in Paris."
    first_call, second_call = recorder.bodies
    assert "previous_response_id" not in first_call or first_call["previous_response_id"] is None
    assert second_call["previous_response_id"] == result.raw_responses[0].response_id
    assert [item["type"] for item in second_call["input"]] == ["function_call_output"]  # only what is new
    _, second = upstream.chat_requests
    assert second.body["messages"] == WEATHER_HISTORY


def test_a_later_run_continues_from_the_last_response_id(model: OpenAIResponsesModel, run: Run,
                                                          upstream: ScriptedUpstream):
    upstream.push(s.json(s.completion("Hello Ada.")), s.json(s.completion("Your name is Ada.")))
    agent = Agent(name="Chat", instructions="Be brief.", model=model)

    first = run(Runner.run(agent, "I am Ada."))
    second = run(Runner.run(agent, "What is my name?", previous_response_id=first.last_response_id))

    assert second.final_output == "Your name is Ada."
    assert [(m["role"], m["content"]) for m in upstream.chat_requests[-1].body["messages"]] == [
        ("system", "Be brief."), ("user", "I am Ada."),
        ("assistant", "Hello Ada."), ("user", "What is my name?")]


def test_runs_in_one_conversation_share_its_history(model: OpenAIResponsesModel, run: Run,
                                                    upstream: ScriptedUpstream, bridge_url: str):
    from openai import OpenAI

    with OpenAI(base_url=bridge_url + "/v1", api_key="x", max_retries=0) as sync:
        conversation = sync.conversations.create()
        upstream.push(s.json(s.completion("Noted: blue.")), s.json(s.completion("Blue.")))
        agent = Agent(name="Chat", instructions="Be brief.", model=model)

        run(Runner.run(agent, "My favourite colour is blue.", conversation_id=conversation.id))
        second = run(Runner.run(agent, "Which colour?", conversation_id=conversation.id))

        assert second.final_output == "Blue."
        assert [m["role"] for m in upstream.chat_requests[-1].body["messages"]] == [
            "system", "user", "assistant", "user"]
        items = sync.conversations.items.list(conversation.id, order="asc").data
        assert [item.role for item in items] == ["user", "assistant", "user", "assistant"]  # type: ignore[union-attr]
