"""The Conversations API with the real `openai` SDK against the real bridge, over real sockets: the conversation
and its items, responses that continue it, and callers (bearer tokens) who cannot see each other's."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest
from openai import OpenAI

from openai_bridge.testing import ScriptedUpstream, answer


def text_of(item: object) -> str:
    return "".join(part.text for part in item.content)  # type: ignore[attr-defined]


@pytest.fixture
def other(bridge_url: str) -> Iterator[OpenAI]:
    """A client with another key: another tenant."""
    with OpenAI(base_url=bridge_url + "/v1", api_key="another-key", max_retries=0, timeout=10) as c:
        yield c


def test_conversation_and_its_items(client: OpenAI):
    conv = client.conversations.create(
        items=[{"type": "message", "role": "user", "content": "Hello!"},
               {"role": "assistant", "content": "Hi! How can I help?"}],
        metadata={"topic": "demo"})
    assert conv.object == "conversation" and conv.id.startswith("conv_") and len(conv.id) == len("conv_") + 48
    assert conv.metadata == {"topic": "demo"} and conv.created_at > 1_700_000_000

    assert client.conversations.retrieve(conv.id) == conv
    updated = client.conversations.update(conv.id, metadata={"topic": "project-x", "owner": "me"})
    assert updated.id == conv.id and updated.metadata == {"topic": "project-x", "owner": "me"}
    assert client.conversations.retrieve(conv.id).metadata == {"topic": "project-x", "owner": "me"}

    added = client.conversations.items.create(
        conv.id, items=[{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "one"}]},
                        {"type": "message", "role": "user", "content": "two"},
                        {"type": "message", "role": "user", "content": "three"}])
    assert added.object == "list" and added.has_more is False
    assert [text_of(i) for i in added.data] == ["one", "two", "three"]
    assert (added.first_id, added.last_id) == (added.data[0].id, added.data[-1].id)

    # Newest first by default; the SDK pages on with `after` = the last id.
    page = client.conversations.items.list(conv.id, limit=2)
    assert [text_of(i) for i in page.data] == ["three", "two"] and page.has_more is True
    assert [text_of(i) for i in page] == ["three", "two", "one", "Hi! How can I help?", "Hello!"]
    after = client.conversations.items.list(conv.id, limit=10, order="asc", after=page.data[0].id)
    assert after.data == [] and after.has_more is False
    oldest = client.conversations.items.list(conv.id, order="asc", include=["message.output_text.logprobs"])
    assert [text_of(i) for i in oldest.data] == ["Hello!", "Hi! How can I help?", "one", "two", "three"]
    first = oldest.data[0]
    assert (first.type, first.role, first.status) == ("message", "user", "completed")
    assert first.content[0].type == "input_text"
    assert oldest.data[1].content[0].type == "output_text"

    item = client.conversations.items.retrieve(added.data[1].id, conversation_id=conv.id)
    assert item == added.data[1]
    after_delete = client.conversations.items.delete(added.data[1].id, conversation_id=conv.id)
    assert after_delete.object == "conversation" and after_delete.id == conv.id
    with pytest.raises(openai.NotFoundError, match=f"Item with id '{added.data[1].id}' not found."):
        client.conversations.items.retrieve(added.data[1].id, conversation_id=conv.id)
    assert [text_of(i) for i in client.conversations.items.list(conv.id)] == [
        "three", "one", "Hi! How can I help?", "Hello!"]

    deleted = client.conversations.delete(conv.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (conv.id, "conversation.deleted", True)
    with pytest.raises(openai.NotFoundError, match=f"Conversation with id '{conv.id}' not found.") as err:
        client.conversations.retrieve(conv.id)
    assert err.value.status_code == 404 and err.value.body["param"] == "conversation_id"  # type: ignore[index]


def test_responses_continue_a_conversation(client: OpenAI, upstream: ScriptedUpstream):
    upstream.push(answer("Paris."), answer("About two million people."))
    conv = client.conversations.create(items=[{"role": "developer", "content": "Answer in one sentence."}])

    first = client.responses.create(model="m", conversation=conv.id, input="What is the capital of France?")
    assert first.output_text == "Paris." and first.conversation is not None and first.conversation.id == conv.id
    with client.responses.stream(model="m", conversation={"id": conv.id},
                                 input=[{"role": "user", "content": "And its population?"}]) as stream:
        second = stream.get_final_response()
    assert second.output_text == "About two million people."

    one, two = upstream.chat_requests
    assert one.body["messages"] == [{"role": "system", "content": "Answer in one sentence."},
                                    {"role": "user", "content": "What is the capital of France?"}]
    assert two.body["messages"] == [{"role": "system", "content": "Answer in one sentence."},
                                    {"role": "user", "content": "What is the capital of France?"},
                                    {"role": "assistant", "content": "Paris."},
                                    {"role": "user", "content": "And its population?"}]

    items = list(client.conversations.items.list(conv.id, order="asc"))
    assert [(i.type, i.role, text_of(i)) for i in items] == [  # type: ignore[union-attr]
        ("message", "developer", "Answer in one sentence."),
        ("message", "user", "What is the capital of France?"),
        ("message", "assistant", "Paris."),
        ("message", "user", "And its population?"),
        ("message", "assistant", "About two million people.")]
    assert items[2].id == first.output[0].id and items[4].id == second.output[0].id


def test_another_key_cannot_see_a_conversation(client: OpenAI, other: OpenAI, upstream: ScriptedUpstream):
    conv = client.conversations.create(items=[{"role": "user", "content": "mine"}], metadata={"k": "v"})
    item_id = client.conversations.items.list(conv.id).data[0].id
    missing = f"Conversation with id '{conv.id}' not found."
    for call in (lambda: other.conversations.retrieve(conv.id),
                 lambda: other.conversations.update(conv.id, metadata={"k": "theirs"}),
                 lambda: other.conversations.items.list(conv.id),
                 lambda: other.conversations.items.create(conv.id, items=[{"role": "user", "content": "theirs"}]),
                 lambda: other.conversations.items.retrieve(item_id, conversation_id=conv.id),
                 lambda: other.conversations.items.delete(item_id, conversation_id=conv.id),
                 lambda: other.conversations.delete(conv.id)):
        with pytest.raises(openai.NotFoundError, match=missing):
            call()
    with pytest.raises(openai.NotFoundError, match=missing):
        other.responses.create(model="m", conversation=conv.id, input="let me in")
    assert upstream.chat_requests == []
    # The owner's conversation is as it was.
    assert client.conversations.retrieve(conv.id) == conv
    assert [text_of(i) for i in client.conversations.items.list(conv.id)] == ["mine"]
    # ...and the other key has conversations of its own.
    theirs = other.conversations.create()
    with pytest.raises(openai.NotFoundError):
        client.conversations.retrieve(theirs.id)


@pytest.mark.parametrize(("body", "param"), [
    ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
    ({"metadata": {"k": "v" * 513}}, "metadata.k"),
    ({"metadata": {"k": 1}}, "metadata.k"),
    ({"items": [{"role": "user", "content": "x"}] * 21}, "items"),
    ({"items": {"role": "user", "content": "x"}}, "items"),
    ({"items": [{"role": "robot", "content": "x"}]}, "items[0].role"),
])
def test_bad_bodies_are_400s_naming_the_param(http: httpx.Client, body: dict, param: str):
    r = http.post("/v1/conversations", json=body)
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param


def test_raw_routes(http: httpx.Client):
    """Without `/v1` too; an empty create body is an empty conversation; JSON that is no object is a 400."""
    r = http.post("/conversations")
    assert r.status_code == 200 and r.json()["metadata"] == {}
    cid = r.json()["id"]
    assert http.get(f"/v1/conversations/{cid}").json() == r.json()
    assert http.post(f"/conversations/{cid}", content=b"[1]").status_code == 400
    assert http.post(f"/conversations/{cid}/items", content=b"{").status_code == 400
    r = http.get(f"/v1/conversations/{cid}/items", params={"limit": 0})
    assert r.status_code == 400 and r.json()["error"]["param"] == "limit"
    r = http.get("/v1/conversations/conv_missing/items")
    assert r.status_code == 404
    assert r.json()["error"]["message"] == "Conversation with id 'conv_missing' not found."
    assert http.delete(f"/v1/conversations/{cid}").json() == {"id": cid, "object": "conversation.deleted",
                                                              "deleted": True}
