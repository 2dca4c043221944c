"""Stored responses end to end, as OpenAI's API serves them: the real `openai` SDK against the real bridge (its
store in memory, or SQLite on disk, or Postgres shared by two bridges), in front of a scripted chat upstream.

What is checked is what a client sees: a response is stored unless it said `store: false`; `previous_response_id`
sends the whole chain's history upstream (every earlier turn's input, then its output, oldest first; only the new
request's instructions); `item_reference` finds an earlier item; `GET`/`DELETE /v1/responses/{id}` and
`GET /v1/responses/{id}/input_items` (with its cursor); and every one of those is the caller's own: another key's
response is a 404, never a 403."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from openai_bridge.settings import Settings
from openai_bridge.testing import ScriptedUpstream, running_bridge
from openai_bridge.testing import scripted as s
from tests.e2e.conftest import KEEPALIVE, TIMEOUTS
from tests.support.conformance import Recorder, response_problems

WEATHER_TOOL = {
    "type": "function", "name": "get_weather", "description": "Weather in a city", "strict": False,
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
CALLS = [
    {"id": "call_a", "name": "get_weather", "arguments": '{"city": "Paris"}'},
    {"id": "call_b", "name": "get_weather", "arguments": '{"city": "Tokyo"}'},
]


# --------------------------------------------------------------------------- helpers


def error_of(r: httpx.Response, status: int, param: str | None = None) -> dict[str, Any]:
    """The error object of an OpenAI-shaped error answer, after checking its status and shape."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert list(body) == ["error"]
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str) and error["message"]
    assert error["type"] == "invalid_request_error"
    if param is not None:
        assert error["param"] == param, error
    return error


def sdk_error(exc: pytest.ExceptionInfo[openai.APIStatusError], status: int,
              param: str | None = None) -> dict[str, Any]:
    """The same check on an error the SDK raised."""
    return error_of(exc.value.response, status, param)


def create(client: OpenAI, *, stream: bool, **kw: Any) -> dict[str, Any]:
    """A response as JSON: the answer (non-stream), or the terminal event's response (stream), whose events are
    checked to carry the stored-state fields from the first event on."""
    if not stream:
        return client.responses.create(**kw).model_dump(mode="json", exclude_unset=True)
    events = list(client.responses.create(stream=True, **kw))
    assert events[-1].type == "response.completed", [e.type for e in events]
    created = events[0].response
    final = events[-1].response
    assert (created.id, created.previous_response_id, created.store) == (
        final.id, final.previous_response_id, final.store)
    return final.model_dump(mode="json", exclude_unset=True)


def get(url: str, path: str, key: str = "x", **params: Any) -> httpx.Response:
    return httpx.get(url + path, params=params, headers={"authorization": f"Bearer {key}"}, timeout=10)


def retrieved(url: str, response_id: str, key: str = "x") -> dict[str, Any]:
    r = get(url, f"/v1/responses/{response_id}", key)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert response_problems(body) == []
    return body


def messages(upstream: ScriptedUpstream) -> list[dict[str, Any]]:
    return list(upstream.last.body["messages"])


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def ids(items: Any) -> list[str]:
    return [i.id for i in items]


def own_bridge(upstream: ScriptedUpstream, conformance: Recorder, **settings: Any) -> Any:
    config = Settings(upstream=upstream.base_url, default_model="m", keepalive=KEEPALIVE, timeouts=TIMEOUTS,
                      **settings)
    return running_bridge(config, wrap=conformance.wrap)


# --------------------------------------------------------------------------- chains


def three_turns(client: OpenAI, upstream: ScriptedUpstream, *, stream: bool) -> list[dict[str, Any]]:
    """Three chained turns (the first with a string input, the next with item lists), each with instructions of
    its own; checks what the upstream saw on turn 3 and what each response echoes."""
    upstream.push(s.answer("Paris."), s.answer("About 2.1 million."), s.answer("The Seine."))
    first = create(client, stream=stream, model="m", input="Capital of France?", instructions="Be brief.")
    second = create(client, stream=stream, model="m", input=[user("Its population?")],
                    previous_response_id=first["id"], instructions="Answer with numbers.")
    third = create(client, stream=stream, model="m", input=[user("Its river?")],
                   previous_response_id=second["id"], instructions="Name one.")
    assert [(r["status"], r["store"], r["previous_response_id"]) for r in (first, second, third)] == [
        ("completed", True, None), ("completed", True, first["id"]), ("completed", True, second["id"])]
    assert [r["instructions"] for r in (first, second, third)] == ["Be brief.", "Answer with numbers.", "Name one."]
    assert messages(upstream) == [
        {"role": "system", "content": "Name one."},  # the new request's instructions, none of the earlier ones
        user("Capital of France?"), {"role": "assistant", "content": "Paris."},
        user("Its population?"), {"role": "assistant", "content": "About 2.1 million."},
        user("Its river?"),
    ]
    assert len(upstream.chat_requests) == 3
    assert all(bool(r.body.get("stream")) is stream for r in upstream.chat_requests)
    # The stored state is the bridge's business: none of it is asked of the chat upstream.
    assert not {"store", "previous_response_id", "input", "instructions"} & set(upstream.last.body)
    return [first, second, third]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_three_turn_chain_sends_the_whole_history(client: OpenAI, upstream: ScriptedUpstream, bridge_url: str,
                                                  stream: bool):
    first, second, third = three_turns(client, upstream, stream=stream)
    # What was kept is what the client got: the terminal event's response (or the JSON answer), retrievable.
    for answer in (first, second, third):
        assert retrieved(bridge_url, answer["id"]) == answer
    assert client.responses.retrieve(third["id"]).output_text == "The Seine."


def test_instructions_are_not_carried_over(client: OpenAI, upstream: ScriptedUpstream):
    upstream.push(s.answer("Hi!"), s.answer("Fine."))
    first = client.responses.create(model="m", input="Hello", instructions="Talk like a pirate.")
    second = client.responses.create(model="m", input="How are you?", previous_response_id=first.id)
    assert second.instructions is None
    assert messages(upstream) == [user("Hello"), {"role": "assistant", "content": "Hi!"}, user("How are you?")]


def test_a_fork_of_a_chain_sees_only_its_own_branch(client: OpenAI, upstream: ScriptedUpstream):
    upstream.push(s.answer("A1"), s.answer("B-left"), s.answer("B-right"), s.answer("C"))
    root = client.responses.create(model="m", input="Q1")
    left = client.responses.create(model="m", input="left?", previous_response_id=root.id)
    client.responses.create(model="m", input="right?", previous_response_id=root.id)
    client.responses.create(model="m", input="and then?", previous_response_id=left.id)
    assert messages(upstream) == [user("Q1"), {"role": "assistant", "content": "A1"}, user("left?"),
                                  {"role": "assistant", "content": "B-left"}, user("and then?")]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_tool_calls_across_turns(client: OpenAI, upstream: ScriptedUpstream, bridge_url: str, stream: bool):
    """Turn 1 answers two function calls; turn 2 sends only their outputs, with previous_response_id: the
    upstream sees the user's question, the assistant's tool_calls and one tool message per call."""
    upstream.push(s.answer(None, tool_calls=CALLS), s.answer("Sunny in Paris, rainy in Tokyo."))
    first = create(client, stream=stream, model="m", input="Weather in Paris and Tokyo?", tools=[WEATHER_TOOL])
    calls = [o for o in first["output"] if o["type"] == "function_call"]
    assert [(c["call_id"], c["name"], c["arguments"]) for c in calls] == [
        (c["id"], c["name"], c["arguments"]) for c in CALLS]
    outputs = [{"type": "function_call_output", "call_id": "call_a", "output": "sunny"},
               {"type": "function_call_output", "call_id": "call_b", "output": "rainy"}]
    second = create(client, stream=stream, model="m", input=outputs, previous_response_id=first["id"],
                    tools=[WEATHER_TOOL])
    assert second["previous_response_id"] == first["id"] and second["store"] is True
    sent = messages(upstream)
    assert sent[0] == user("Weather in Paris and Tokyo?")
    assert sent[1]["role"] == "assistant" and not sent[1].get("content")
    assert [(t["id"], t["type"], t["function"]["name"], json.loads(t["function"]["arguments"]))
            for t in sent[1]["tool_calls"]] == [(c["id"], "function", c["name"], json.loads(c["arguments"]))
                                                for c in CALLS]
    assert sent[2:] == [{"role": "tool", "tool_call_id": "call_a", "content": "sunny"},
                        {"role": "tool", "tool_call_id": "call_b", "content": "rainy"}]
    assert upstream.last.body["tools"][0]["function"]["name"] == "get_weather"
    # The outputs are the second response's input items, in order, with ids of their own.
    listed = client.responses.input_items.list(second["id"], order="asc")
    assert [(i.type, i.call_id, i.output) for i in listed.data] == [
        ("function_call_output", "call_a", "sunny"), ("function_call_output", "call_b", "rainy")]
    assert all(i.id for i in listed.data)
    assert retrieved(bridge_url, second["id"])["output"][0]["content"][0]["text"] == "Sunny in Paris, rainy in Tokyo."


def test_a_response_is_stored_before_its_stream_ends(client: OpenAI, upstream: ScriptedUpstream, bridge_url: str):
    """As soon as the client reads `response.completed`, the response is there to retrieve and to chain from."""
    upstream.push(s.answer("first", delay=0.01), s.answer("second"))
    with client.responses.create(model="m", input="Q1", stream=True) as events:
        for event in events:
            if event.type == "response.completed":
                found = retrieved(bridge_url, event.response.id)
                assert found["status"] == "completed" and found["output"][0]["content"][0]["text"] == "first"
                nxt = client.responses.create(model="m", input="Q2", previous_response_id=event.response.id)
                assert nxt.output_text == "second"
    assert messages(upstream) == [user("Q1"), {"role": "assistant", "content": "first"}, user("Q2")]


# --------------------------------------------------------------------------- retrieve, input items, delete


def test_retrieve_is_the_response_as_created(client: OpenAI, upstream: ScriptedUpstream, bridge_url: str):
    upstream.push(s.answer("Hello there", reasoning_content="Greeting."))
    made = client.responses.create(model="m", input="Hi", instructions="Be nice", temperature=0.3,
                                metadata={"k": "v"}, tools=[WEATHER_TOOL])
    got = client.responses.retrieve(made.id)
    assert got.model_dump(mode="json", exclude_unset=True) == made.model_dump(mode="json", exclude_unset=True)
    assert (got.status, got.output_text, got.store, got.metadata) == ("completed", "Hello there", True, {"k": "v"})
    assert [o.type for o in got.output] == ["reasoning", "message"]
    assert retrieved(bridge_url, made.id, "x")["id"] == made.id


def test_input_items_are_listed_with_a_cursor(client: OpenAI, upstream: ScriptedUpstream, bridge_url: str):
    sent = [user(f"part {n}") for n in range(5)]
    made = client.responses.create(model="m", input=sent)
    # Default order: newest first (desc), 20 to a page.
    everything = client.responses.input_items.list(made.id)
    assert [i.content[0].text for i in everything.data] == [f"part {n}" for n in (4, 3, 2, 1, 0)]
    assert all((i.type, i.role) == ("message", "user") for i in everything.data)
    assert all(i.content[0].type == "input_text" for i in everything.data)
    in_order = list(reversed(ids(everything.data)))
    assert len(set(in_order)) == 5 and all(i.startswith("msg_") for i in in_order)
    assert (everything.has_more, everything.first_id, everything.last_id) == (False, in_order[4], in_order[0])

    page = client.responses.input_items.list(made.id, limit=2, order="asc")
    assert (ids(page.data), page.has_more, page.first_id, page.last_id) == (in_order[:2], True, *in_order[:2])
    page = client.responses.input_items.list(made.id, limit=2, order="asc", after=page.last_id)
    assert (ids(page.data), page.has_more) == (in_order[2:4], True)
    page = client.responses.input_items.list(made.id, limit=2, order="asc", after=page.last_id)
    assert (ids(page.data), page.has_more, page.first_id, page.last_id) == (in_order[4:], False, in_order[4],
                                                                             in_order[4])
    page = client.responses.input_items.list(made.id, limit=2, order="desc", after=in_order[3])
    assert (ids(page.data), page.has_more) == ([in_order[2], in_order[1]], True)
    # `before` (which the SDK no longer offers, but the API took) ends the window at an item.
    page = client.responses.input_items.list(made.id, order="asc", extra_query={"before": in_order[2]})
    assert (ids(page.data), page.has_more) == (in_order[:2], False)
    # The SDK's auto-pagination follows `after` = the last id of each page.
    assert [i.id for i in client.responses.input_items.list(made.id, limit=2)] == in_order[::-1]
    assert [i.id for i in client.responses.input_items.list(made.id, limit=2, order="asc")] == in_order

    raw = get(bridge_url, f"/v1/responses/{made.id}/input_items", limit=1, order="asc")
    assert raw.status_code == 200
    assert raw.json() == {"object": "list", "data": [{"id": in_order[0], "type": "message", "role": "user",
                                                      "content": [{"type": "input_text", "text": "part 0"}],
                                                      "status": "completed"}],
                          "first_id": in_order[0], "last_id": in_order[0], "has_more": True}

    error_of(get(bridge_url, f"/v1/responses/{made.id}/input_items", limit=0), 400, "limit")
    error_of(get(bridge_url, f"/v1/responses/{made.id}/input_items", limit=101), 400, "limit")
    error_of(get(bridge_url, f"/v1/responses/{made.id}/input_items", order="up"), 400, "order")
    error_of(get(bridge_url, f"/v1/responses/{made.id}/input_items", after="msg_not_in_it"), 400, "after")
    error = error_of(get(bridge_url, "/v1/responses/resp_missing/input_items"), 404)
    assert "resp_missing" in error["message"]


def test_input_items_keep_the_clients_ids_and_shapes(client: OpenAI, upstream: ScriptedUpstream):
    """Items come back as OpenAI lists them: a string input as one user message with an input_text part; an
    item's own id kept; a message written without `type` listed as a message."""
    made = client.responses.create(model="m", input="just text")
    (only,) = client.responses.input_items.list(made.id).data
    assert (only.type, only.role, [(p.type, p.text) for p in only.content]) == (
        "message", "user", [("input_text", "just text")])

    made = client.responses.create(model="m", input=[
        {"type": "message", "id": "msg_mine", "role": "user", "content": [{"type": "input_text", "text": "a"}]},
        {"role": "developer", "content": "b"},
    ])
    listed = client.responses.input_items.list(made.id, order="asc").data
    assert [(i.id, i.type, i.role) for i in listed][0] == ("msg_mine", "message", "user")
    assert (listed[1].type, listed[1].role) == ("message", "developer")
    assert [(p.type, p.text) for p in listed[1].content] == [("input_text", "b")]


def test_delete_then_retrieve_is_404_naming_the_id(client: OpenAI, upstream: ScriptedUpstream, bridge_url: str):
    upstream.push(s.answer("A1"))
    made = client.responses.create(model="m", input="Q1")
    r = httpx.delete(f"{bridge_url}/v1/responses/{made.id}", headers={"authorization": "Bearer x"})
    assert r.status_code == 200
    assert r.json() == {"id": made.id, "object": "response", "deleted": True}

    with pytest.raises(openai.NotFoundError) as exc:
        client.responses.retrieve(made.id)
    assert made.id in sdk_error(exc, 404)["message"]
    with pytest.raises(openai.NotFoundError) as exc:
        client.responses.delete(made.id)  # a second time: nothing to delete
    assert made.id in sdk_error(exc, 404)["message"]
    with pytest.raises(openai.NotFoundError) as exc:
        client.responses.input_items.list(made.id)
    assert made.id in sdk_error(exc, 404)["message"]
    with pytest.raises(openai.APIStatusError) as chained:
        client.responses.create(model="m", input="Q2", previous_response_id=made.id)
    assert made.id in previous_not_found(chained)["message"]
    # Its items went with it.
    with pytest.raises(openai.NotFoundError) as exc:
        client.responses.create(model="m", input=[{"type": "item_reference", "id": made.output[0].id}])
    sdk_error(exc, 404, "input[0].id")
    assert len(upstream.chat_requests) == 1  # nothing went upstream for the refused turns


def test_delete_with_the_sdk(client: OpenAI, upstream: ScriptedUpstream):
    made = client.responses.create(model="m", input="Q")
    assert client.responses.delete(made.id) is None  # the SDK's delete returns nothing on a 200
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(made.id)


def test_a_deleted_turn_cuts_the_chain_there(client: OpenAI, upstream: ScriptedUpstream):
    """Deleting a turn in the middle leaves its successors: chaining from the last one sends the turns after the
    deleted one only."""
    upstream.push(s.answer("A1"), s.answer("A2"), s.answer("A3"), s.answer("A4"))
    first = client.responses.create(model="m", input="Q1")
    second = client.responses.create(model="m", input="Q2", previous_response_id=first.id)
    third = client.responses.create(model="m", input="Q3", previous_response_id=second.id)
    client.responses.delete(second.id)
    assert client.responses.retrieve(third.id).previous_response_id == second.id
    client.responses.create(model="m", input="Q4", previous_response_id=third.id)
    assert messages(upstream) == [user("Q3"), {"role": "assistant", "content": "A3"}, user("Q4")]


def previous_not_found(exc: pytest.ExceptionInfo[openai.APIStatusError]) -> dict[str, Any]:
    """OpenAI's answer to a previous_response_id it does not have: a 400 naming the id, with
    param previous_response_id and code previous_response_not_found (clients such as Codex or pydantic-ai
    resend the whole history when they see that code)."""
    error = sdk_error(exc, 400, "previous_response_id")
    assert error["code"] == "previous_response_not_found"
    return error


def test_store_false_is_not_kept(client: OpenAI, upstream: ScriptedUpstream, bridge_url: str):
    upstream.push(s.answer("secret answer"), s.answer("streamed secret"))
    made = client.responses.create(model="m", input="Q", store=False)
    assert made.store is False and made.output_text == "secret answer"
    streamed = create(client, stream=True, model="m", input="Q", store=False)
    assert streamed["store"] is False
    for response_id in (made.id, streamed["id"]):
        with pytest.raises(openai.NotFoundError) as exc:
            client.responses.retrieve(response_id)
        assert response_id in sdk_error(exc, 404)["message"]
        with pytest.raises(openai.NotFoundError):
            client.responses.input_items.list(response_id)
        with pytest.raises(openai.APIStatusError) as chained:
            client.responses.create(model="m", input="more", previous_response_id=response_id)
        previous_not_found(chained)
    # Nor are its items: a reference to its output is unknown.
    r = httpx.post(bridge_url + "/v1/responses", headers={"authorization": "Bearer x"},
                   json={"model": "m", "input": [{"type": "item_reference", "id": made.output[0].id}]})
    error_of(r, 404, "input[0].id")


def test_store_false_may_continue_a_stored_chain_without_being_kept(client: OpenAI, upstream: ScriptedUpstream):
    upstream.push(s.answer("A1"), s.answer("A2"), s.answer("A3"))
    first = client.responses.create(model="m", input="Q1")
    second = client.responses.create(model="m", input="Q2", previous_response_id=first.id, store=False)
    assert (second.store, second.previous_response_id) == (False, first.id)
    assert messages(upstream) == [user("Q1"), {"role": "assistant", "content": "A1"}, user("Q2")]
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(second.id)
    client.responses.create(model="m", input="Q3", previous_response_id=first.id)  # the chain itself is unchanged
    assert messages(upstream) == [user("Q1"), {"role": "assistant", "content": "A1"}, user("Q3")]


def test_unknown_previous_response_id(client: OpenAI, upstream: ScriptedUpstream):
    for stream in (False, True):
        with pytest.raises(openai.APIStatusError) as exc:
            client.responses.create(model="m", input="Q", previous_response_id="resp_does_not_exist", stream=stream)
        assert "resp_does_not_exist" in previous_not_found(exc)["message"]
    assert upstream.chat_requests == []


def test_item_reference_to_an_earlier_output(client: OpenAI, upstream: ScriptedUpstream, bridge_url: str):
    upstream.push(s.answer(None, tool_calls=CALLS[:1]), s.answer("It is sunny."))
    first = client.responses.create(model="m", input="Weather in Paris?", tools=[WEATHER_TOOL])
    question = client.responses.input_items.list(first.id).data[0].id
    (call,) = first.output
    second = client.responses.create(model="m", tools=[WEATHER_TOOL], input=[
        {"type": "item_reference", "id": question},
        {"type": "item_reference", "id": call.id},
        {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"},
    ])
    assert second.previous_response_id is None
    sent = messages(upstream)
    assert sent[0] == user("Weather in Paris?")
    assert [t["id"] for t in sent[1]["tool_calls"]] == ["call_a"]
    assert sent[2] == {"role": "tool", "tool_call_id": "call_a", "content": "sunny"}
    # The second response keeps the items the references stood for: a later chain needs no lookup of them.
    listed = client.responses.input_items.list(second.id, order="asc").data
    assert [(i.type, i.id) for i in listed][:2] == [("message", question), ("function_call", call.id)]

    r = httpx.post(bridge_url + "/v1/responses", headers={"authorization": "Bearer x"},
                   json={"model": "m", "input": [user("hi"), {"type": "item_reference", "id": "msg_nowhere"}]})
    assert "msg_nowhere" in error_of(r, 404, "input[1].id")["message"]


def test_previous_response_id_and_conversation_together_are_refused(client: OpenAI, upstream: ScriptedUpstream,
                                                                   bridge_url: str):
    made = client.responses.create(model="m", input="Q")
    r = httpx.post(bridge_url + "/v1/responses", headers={"authorization": "Bearer x"},
                   json={"model": "m", "input": "Q", "previous_response_id": made.id, "conversation": "conv_1"})
    error_of(r, 400)


def test_bad_stored_ids_are_clean_errors(bridge_url: str, upstream: ScriptedUpstream):
    """Odd ids in the path are a 404 like any unknown id, never a 500."""
    for odd in ("resp_%20", "..%2F..%2Fetc", "x" * 300, "resp_'; DROP TABLE responses;--"):
        error_of(get(bridge_url, f"/v1/responses/{odd}"), 404)
        error_of(httpx.delete(f"{bridge_url}/v1/responses/{odd}"), 404)
    r = httpx.post(bridge_url + "/v1/responses", json={"model": "m", "input": "Q", "previous_response_id": 7})
    error_of(r, 400, "previous_response_id")


# --------------------------------------------------------------------------- tenants


def test_two_keys_never_see_each_others_responses(scripted_server: ScriptedUpstream, conformance: Recorder):
    upstream = scripted_server
    upstream.reset()
    with own_bridge(upstream, conformance, api_keys=frozenset({"key-a", "key-b"})) as url, \
            OpenAI(base_url=url + "/v1", api_key="key-a", max_retries=0) as a, \
            OpenAI(base_url=url + "/v1", api_key="key-b", max_retries=0) as b:
        upstream.push(s.answer("for A only"))
        mine = a.responses.create(model="m", input="A's question")
        assert_foreign(b, url, "key-b", mine.id, mine.output[0].id, upstream)
        # A still has it all, after B's attempts (B's delete did nothing).
        assert a.responses.retrieve(mine.id).output_text == "for A only"
        assert len(a.responses.input_items.list(mine.id).data) == 1
        upstream.push(s.answer("A2"))
        a.responses.create(model="m", input="A again", previous_response_id=mine.id)
        assert messages(upstream) == [user("A's question"), {"role": "assistant", "content": "for A only"},
                                      user("A again")]
        # Without a valid key: 401, not a lookup.
        r = get(url, f"/v1/responses/{mine.id}", "key-c")
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"


def test_two_bearer_tokens_are_two_tenants_without_keys(bridge_url: str, upstream: ScriptedUpstream):
    """Without BRIDGE_API_KEYS the bridge asks for no key, but keeps what each token stored to that token."""
    with OpenAI(base_url=bridge_url + "/v1", api_key="token-1", max_retries=0) as one, \
            OpenAI(base_url=bridge_url + "/v1", api_key="token-2", max_retries=0) as two:
        upstream.push(s.answer("for 1"))
        mine = one.responses.create(model="m", input="1's question")
        assert_foreign(two, bridge_url, "token-2", mine.id, mine.output[0].id, upstream)
        assert one.responses.retrieve(mine.id).output_text == "for 1"
    # Nor does a client without a token see it.
    error_of(httpx.get(f"{bridge_url}/v1/responses/{mine.id}"), 404)


def assert_foreign(other: OpenAI, url: str, key: str, response_id: str, item_id: str,
                   upstream: ScriptedUpstream) -> None:
    """`other` (with `key`) finds nothing of the response: retrieve, list, chain, reference and delete are each a
    404 (a 400 for the chain), as for an id that never existed; nothing reaches the upstream."""
    sent = len(upstream.chat_requests)
    with pytest.raises(openai.NotFoundError) as exc:
        other.responses.retrieve(response_id)
    assert response_id in sdk_error(exc, 404)["message"]
    with pytest.raises(openai.NotFoundError) as exc:
        other.responses.input_items.list(response_id)
    sdk_error(exc, 404)
    with pytest.raises(openai.APIStatusError) as chained:
        other.responses.create(model="m", input="let me in", previous_response_id=response_id)
    previous_not_found(chained)
    with pytest.raises(openai.NotFoundError) as exc:
        other.responses.create(model="m", input=[{"type": "item_reference", "id": item_id}])
    sdk_error(exc, 404, "input[0].id")
    with pytest.raises(openai.NotFoundError) as exc:
        other.responses.delete(response_id)
    sdk_error(exc, 404)
    # What an unknown id gets, word for word but for the id.
    unknown = get(url, "/v1/responses/resp_never_was", key).json()["error"]
    foreign = get(url, f"/v1/responses/{response_id}", key).json()["error"]
    assert {**foreign, "message": foreign["message"].replace(response_id, "resp_never_was")} == unknown
    assert len(upstream.chat_requests) == sent


# --------------------------------------------------------------------------- SQLite on disk


def test_sqlite_store_on_disk(scripted_server: ScriptedUpstream, conformance: Recorder, tmp_path: Path):
    """The default backend, in a file: a chain works the same, and survives the bridge stopping and starting."""
    upstream = scripted_server
    upstream.reset()
    settings: dict[str, Any] = {"store": f"sqlite:///{tmp_path}/s.db", "state_dir": tmp_path / "state"}
    with own_bridge(upstream, conformance, **settings) as url, \
            OpenAI(base_url=url + "/v1", api_key="x", max_retries=0) as client:
        first, second, third = three_turns(client, upstream, stream=True)
        assert retrieved(url, third["id"]) == third
        assert [i.content[0].text for i in client.responses.input_items.list(second["id"])] == ["Its population?"]
        client.responses.delete(first["id"])
    assert (tmp_path / "s.db").exists()
    upstream.reset()
    with own_bridge(upstream, conformance, **settings) as url, \
            OpenAI(base_url=url + "/v1", api_key="x", max_retries=0) as client:
        assert retrieved(url, third["id"]) == third
        error_of(get(url, f"/v1/responses/{first['id']}"), 404)
        upstream.push(s.answer("Yes."))
        client.responses.create(model="m", input="Is it long?", previous_response_id=third["id"])
        assert messages(upstream) == [  # the chain now starts after the deleted first turn
            user("Its population?"), {"role": "assistant", "content": "About 2.1 million."},
            user("Its river?"), {"role": "assistant", "content": "The Seine."}, user("Is it long?")]



@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_incomplete_responses_are_kept_too(client: OpenAI, upstream: ScriptedUpstream, bridge_url: str, stream: bool):
    """A response cut off by max_output_tokens is stored (status incomplete, as the client got it) and can be
    continued."""
    upstream.push(s.answer("The first half", finish_reason="length"), s.answer("and the rest."))
    if stream:
        events = list(client.responses.create(model="m", input="Tell me a story", max_output_tokens=16, stream=True))
        assert events[-1].type == "response.incomplete"
        cut = events[-1].response.model_dump(mode="json", exclude_unset=True)
    else:
        cut = client.responses.create(model="m", input="Tell me a story", max_output_tokens=16).model_dump(
            mode="json", exclude_unset=True)
    assert (cut["status"], cut["incomplete_details"]) == ("incomplete", {"reason": "max_output_tokens"})
    assert retrieved(bridge_url, cut["id"]) == cut
    client.responses.create(model="m", input="Go on.", previous_response_id=cut["id"])
    assert messages(upstream) == [user("Tell me a story"), {"role": "assistant", "content": "The first half"},
                                  user("Go on.")]


def test_a_stream_that_fails_is_kept_failed(client: OpenAI, upstream: ScriptedUpstream, bridge_url: str):
    """As OpenAI keeps it: status failed, its error, the output that arrived; a JSON answer that fails is an HTTP
    error, with no response to keep."""
    upstream.push(s.drop_after(s.text_chunks("Half an ans", finish_reason=None, usage=None)))
    events = list(client.responses.create(model="m", input="Q", stream=True))
    assert events[-1].type == "response.failed"
    failed = events[-1].response.model_dump(mode="json", exclude_unset=True)
    for _ in range(50):  # kept just after the terminal event
        found = get(bridge_url, f"/v1/responses/{failed['id']}")
        if found.status_code == 200:
            break
        time.sleep(0.02)
    assert found.json() == failed
    assert failed["status"] == "failed" and failed["error"]["code"]
    assert failed["output"][0]["content"][0]["text"] == "Half an ans"


def test_routes_without_v1(client: OpenAI, upstream: ScriptedUpstream, bridge_url: str):
    made = client.responses.create(model="m", input="Q")
    assert get(bridge_url, f"/responses/{made.id}").json()["id"] == made.id
    assert get(bridge_url, f"/responses/{made.id}/input_items").json()["data"][0]["content"] == [
        {"type": "input_text", "text": "Q"}]
    r = httpx.delete(f"{bridge_url}/responses/{made.id}", headers={"authorization": "Bearer x"})
    assert r.json() == {"id": made.id, "object": "response", "deleted": True}
    error_of(get(bridge_url, f"/v1/responses/{made.id}"), 404)


# --------------------------------------------------------------------------- Postgres: two replicas


def test_two_replicas_on_one_postgres(scripted_server: ScriptedUpstream, conformance: Recorder, postgres_url: str,
                                      tmp_path: Path):
    """Two bridges on the same database: a response made on one is retrieved, listed, chained from (the upstream
    sees its history) and deleted on the other; each key still sees only its own."""
    upstream = scripted_server
    upstream.reset()
    keys = frozenset({"key-a", "key-b"})
    with own_bridge(upstream, conformance, store=postgres_url, api_keys=keys) as one, \
            own_bridge(upstream, conformance, store=postgres_url, api_keys=keys) as two, \
            OpenAI(base_url=one + "/v1", api_key="key-a", max_retries=0) as on_one, \
            OpenAI(base_url=two + "/v1", api_key="key-a", max_retries=0) as on_two, \
            OpenAI(base_url=two + "/v1", api_key="key-b", max_retries=0) as b_on_two:
        upstream.push(s.answer("Paris."), s.answer("About 2.1 million."), s.answer("The Seine."))
        first = create(on_one, stream=True, model="m", input="Capital of France?")
        assert retrieved(two, first["id"], "key-a") == first
        assert [i.content[0].text for i in on_two.responses.input_items.list(first["id"])] == ["Capital of France?"]

        second = create(on_two, stream=False, model="m", input="Its population?", previous_response_id=first["id"])
        assert messages(upstream) == [user("Capital of France?"), {"role": "assistant", "content": "Paris."},
                                      user("Its population?")]
        third = create(on_one, stream=False, model="m", input="Its river?", previous_response_id=second["id"])
        assert messages(upstream) == [user("Capital of France?"), {"role": "assistant", "content": "Paris."},
                                      user("Its population?"), {"role": "assistant", "content": "About 2.1 million."},
                                      user("Its river?")]
        assert retrieved(two, third["id"], "key-a") == third

        assert_foreign(b_on_two, two, "key-b", first["id"], first["output"][0]["id"], upstream)

        on_two.responses.delete(first["id"])
        for url in (one, two):
            assert first["id"] in error_of(get(url, f"/v1/responses/{first['id']}", "key-a"), 404)["message"]
        on_one.responses.delete(second["id"])
        on_two.responses.delete(third["id"])
        error_of(get(one, f"/v1/responses/{third['id']}", "key-a"), 404)
