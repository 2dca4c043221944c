"""The conversations service over the memory store, as OpenAI's API reference defines the Conversations API: the
objects' shapes, metadata's limits, items with ids, paging, 404s that name the id, one tenant never seeing
another's; and responses created in a conversation (history in, both turns' items appended). No sockets."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from openai_bridge.errors import InvalidRequest, NotFound
from openai_bridge.ids import SequentialIds
from openai_bridge.routing import DEFAULT, Router
from openai_bridge.service.conversations import ConversationsService
from openai_bridge.service.responses import ResponsesService
from openai_bridge.settings import Settings
from openai_bridge.store.base import PageRequest
from openai_bridge.store.memory import MemoryStore
from openai_bridge.store.open import StoreSlot
from openai_bridge.testing import FakeUpstream, answer
from openai_bridge.vault import ReasoningVault

NOW = 1700000000
ALICE, BOB = "tenant-a", "tenant-b"


def conversations() -> ConversationsService:
    config = Settings(default_model="m")
    return ConversationsService(config, StoreSlot(config, MemoryStore()), new_id=SequentialIds(), clock=lambda: NOW)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def user(text: str, **extra: Any) -> dict[str, Any]:
    return {"role": "user", "content": text, **extra}


def texts(items: list[dict[str, Any]]) -> list[str]:
    return [part["text"] for item in items for part in item["content"]]


# --------------------------------------------------------------------------- the conversation object


def test_create_answers_the_conversation_object_and_keeps_its_items():
    async def go() -> None:
        svc = conversations()
        conv = await svc.create(ALICE, {"items": [user("Hello!"), {"type": "message", "role": "assistant",
                                                                   "content": "Hi, how can I help?"}],
                                        "metadata": {"topic": "demo"}})
        assert conv == {"id": "conv_0003", "object": "conversation", "created_at": NOW, "metadata": {"topic": "demo"}}
        listed = await svc.list_items(ALICE, conv["id"], PageRequest(order="asc"))
        # Listed as OpenAI lists them: a type, an id, content parts, a status.
        assert listed == {"object": "list", "data": [
            {"id": "msg_0001", "type": "message", "role": "user", "status": "completed",
             "content": [{"type": "input_text", "text": "Hello!"}]},
            {"id": "msg_0002", "type": "message", "role": "assistant", "status": "completed",
             "content": [{"type": "output_text", "text": "Hi, how can I help?", "annotations": []}]},
        ], "first_id": "msg_0001", "last_id": "msg_0002", "has_more": False}

    run(go())


def test_create_without_anything_has_empty_metadata_and_no_items():
    async def go() -> None:
        svc = conversations()
        for body in ({}, {"items": None, "metadata": None}, {"items": []}):
            conv = await svc.create(ALICE, body)
            assert conv["metadata"] == {} and conv["object"] == "conversation"
            listed = await svc.list_items(ALICE, conv["id"], PageRequest())
            assert listed == {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}

    run(go())


def test_retrieve_update_delete():
    async def go() -> None:
        svc = conversations()
        conv = await svc.create(ALICE, {"metadata": {"a": "1"}})
        assert await svc.get(ALICE, conv["id"]) == conv
        updated = await svc.update(ALICE, conv["id"], {"metadata": {"b": "2"}})
        assert updated == {**conv, "metadata": {"b": "2"}}  # replaced, not merged
        assert await svc.get(ALICE, conv["id"]) == updated
        assert (await svc.update(ALICE, conv["id"], {"metadata": None}))["metadata"] == {}
        assert await svc.delete(ALICE, conv["id"]) == {"id": conv["id"], "object": "conversation.deleted",
                                                        "deleted": True}
        for call in (svc.get(ALICE, conv["id"]), svc.delete(ALICE, conv["id"]),
                     svc.update(ALICE, conv["id"], {"metadata": {}}),
                     svc.list_items(ALICE, conv["id"], PageRequest()),
                     svc.add_items(ALICE, conv["id"], {"items": [user("x")]})):
            with pytest.raises(NotFound) as err:
                await call
            assert err.value.message == f"Conversation with id '{conv['id']}' not found."
            assert err.value.status == 404

    run(go())


def test_another_tenants_conversation_is_not_found():
    async def go() -> None:
        svc = conversations()
        conv = await svc.create(ALICE, {"items": [user("secret")]})
        for call in (svc.get(BOB, conv["id"]), svc.update(BOB, conv["id"], {"metadata": {"x": "y"}}),
                     svc.delete(BOB, conv["id"]), svc.list_items(BOB, conv["id"], PageRequest()),
                     svc.add_items(BOB, conv["id"], {"items": [user("x")]}),
                     svc.get_item(BOB, conv["id"], "msg_0001"), svc.delete_item(BOB, conv["id"], "msg_0001")):
            with pytest.raises(NotFound, match=f"Conversation with id '{conv['id']}' not found."):
                await call
        # ...and it is untouched.
        assert await svc.get(ALICE, conv["id"]) == conv
        assert texts((await svc.list_items(ALICE, conv["id"], PageRequest()))["data"]) == ["secret"]

    run(go())


# --------------------------------------------------------------------------- metadata and bodies


@pytest.mark.parametrize(("metadata", "param", "code"), [
    ({f"k{i}": "v" for i in range(17)}, "metadata", "object_above_max_properties"),
    ({"k" * 65: "v"}, "metadata", "string_above_max_length"),
    ({"k": "v" * 513}, "metadata.k", "string_above_max_length"),
    ({"k": 1}, "metadata.k", "invalid_type"),
    ({"k": None}, "metadata.k", "invalid_type"),
    (["k", "v"], "metadata", "invalid_type"),
    ("k=v", "metadata", "invalid_type"),
])
def test_metadata_is_checked_as_openai_does(metadata: Any, param: str, code: str):
    async def go() -> None:
        svc = conversations()
        conv = await svc.create(ALICE, {})
        for call in (svc.create(ALICE, {"metadata": metadata}),
                     svc.update(ALICE, conv["id"], {"metadata": metadata})):
            with pytest.raises(InvalidRequest) as err:
                await call
            assert (err.value.status, err.value.param, err.value.code) == (400, param, code)
        assert (await svc.get(ALICE, conv["id"]))["metadata"] == {}

    run(go())


def test_metadata_at_its_limits_is_fine():
    most = {f"{i:02d}" + "k" * 62: "v" * 512 for i in range(16)}
    conv = run(conversations().create(ALICE, {"metadata": most}))
    assert conv["metadata"] == most


@pytest.mark.parametrize(("body", "param"), [
    ({"items": "hello"}, "items"),
    ({"items": [user("x")] * 21}, "items"),
    ({"items": ["hello"]}, "items[0]"),
    ({"items": [{"content": "no type, no role"}]}, "items[0].type"),
    ({"items": [user("fine"), {"type": "message", "role": "robot", "content": "x"}]}, "items[1].role"),
    ({"items": [{"type": "message", "role": "user"}]}, "items[0].content"),
    ({"items": [{"type": "item_reference"}]}, "items[0].id"),
    ({"items": [], "extra": 1}, "extra"),
])
def test_bad_create_bodies_are_400s_naming_the_param(body: dict[str, Any], param: str):
    svc = conversations()
    with pytest.raises(InvalidRequest) as err:
        run(svc.create(ALICE, body))
    assert (err.value.status, err.value.param) == (400, param)


def test_twenty_items_are_fine():
    async def go() -> None:
        svc = conversations()
        conv = await svc.create(ALICE, {"items": [user(str(n)) for n in range(20)]})
        added = await svc.add_items(ALICE, conv["id"], {"items": [user(str(n)) for n in range(20, 40)]})
        assert len(added["data"]) == 20
        listed = await svc.list_items(ALICE, conv["id"], PageRequest(limit=100, order="asc"))
        assert texts(listed["data"]) == [str(n) for n in range(40)]

    run(go())


@pytest.mark.parametrize(("body", "param"), [
    ({}, "items"),
    ({"items": None}, "items"),
    ({"items": []}, "items"),
    ({"items": [user("x")] * 21}, "items"),
    ({"items": [user("x")], "metadata": {}}, "metadata"),
])
def test_bad_add_bodies_are_400s(body: dict[str, Any], param: str):
    async def go() -> None:
        svc = conversations()
        conv = await svc.create(ALICE, {})
        with pytest.raises(InvalidRequest) as err:
            await svc.add_items(ALICE, conv["id"], body)
        assert (err.value.status, err.value.param) == (400, param)

    run(go())


def test_update_needs_metadata():
    async def go() -> None:
        svc = conversations()
        conv = await svc.create(ALICE, {})
        with pytest.raises(InvalidRequest) as err:
            await svc.update(ALICE, conv["id"], {})
        assert (err.value.param, err.value.code) == ("metadata", "missing_required_parameter")

    run(go())


# --------------------------------------------------------------------------- items


def test_add_items_answers_the_added_items_in_order_and_appends_them():
    async def go() -> None:
        svc = conversations()
        conv = await svc.create(ALICE, {"items": [user("one")]})
        added = await svc.add_items(ALICE, conv["id"], {"items": [
            user("two"), {"type": "function_call_output", "call_id": "call_1", "output": "42"}, user("three")]})
        assert added["object"] == "list" and added["has_more"] is False
        assert [i["id"] for i in added["data"]] == ["msg_0003", "fco_0004", "msg_0005"]
        assert (added["first_id"], added["last_id"]) == ("msg_0003", "msg_0005")
        assert added["data"][1] == {"id": "fco_0004", "type": "function_call_output", "call_id": "call_1",
                                    "output": "42"}
        listed = await svc.list_items(ALICE, conv["id"], PageRequest(order="asc"))
        assert [i["id"] for i in listed["data"]] == ["msg_0001", "msg_0003", "fco_0004", "msg_0005"]

    run(go())


def test_list_items_pages_newest_first_by_default():
    async def go() -> None:
        svc = conversations()
        conv = await svc.create(ALICE, {"items": [user(str(n)) for n in range(5)]})
        cid = conv["id"]
        first = await svc.list_items(ALICE, cid, PageRequest(limit=2))
        assert texts(first["data"]) == ["4", "3"] and first["has_more"] is True
        second = await svc.list_items(ALICE, cid, PageRequest(limit=2, after=first["last_id"]))
        assert texts(second["data"]) == ["2", "1"] and second["has_more"] is True
        third = await svc.list_items(ALICE, cid, PageRequest(limit=2, after=second["last_id"]))
        assert texts(third["data"]) == ["0"] and third["has_more"] is False
        ascending = await svc.list_items(ALICE, cid, PageRequest(limit=3, order="asc", after="msg_0002"))
        assert texts(ascending["data"]) == ["2", "3", "4"] and ascending["has_more"] is False
        with pytest.raises(InvalidRequest) as err:
            await svc.list_items(ALICE, cid, PageRequest(after="msg_9999"))
        assert err.value.param == "after"

    run(go())


def test_retrieve_and_delete_an_item():
    async def go() -> None:
        svc = conversations()
        conv = await svc.create(ALICE, {"items": [user("keep"), user("drop")], "metadata": {"k": "v"}})
        cid = conv["id"]
        assert texts([await svc.get_item(ALICE, cid, "msg_0002")]) == ["drop"]
        assert await svc.delete_item(ALICE, cid, "msg_0002") == conv  # the conversation, as OpenAI answers
        with pytest.raises(NotFound) as err:
            await svc.get_item(ALICE, cid, "msg_0002")
        assert (err.value.message, err.value.param) == ("Item with id 'msg_0002' not found.", "item_id")
        with pytest.raises(NotFound, match="Item with id 'msg_0002' not found."):
            await svc.delete_item(ALICE, cid, "msg_0002")
        with pytest.raises(NotFound, match="Conversation with id 'conv_x' not found."):
            await svc.get_item(ALICE, "conv_x", "msg_0001")
        assert texts((await svc.list_items(ALICE, cid, PageRequest()))["data"]) == ["keep"]

    run(go())


def test_an_item_id_the_conversation_holds_is_a_duplicate():
    async def go() -> None:
        svc = conversations()
        conv = await svc.create(ALICE, {"items": [user("one", id="msg_mine")]})
        assert (await svc.get_item(ALICE, conv["id"], "msg_mine"))["content"] == [{"type": "input_text",
                                                                                 "text": "one"}]
        with pytest.raises(InvalidRequest, match="Duplicate item found with id msg_mine") as err:
            await svc.add_items(ALICE, conv["id"], {"items": [user("again", id="msg_mine")]})
        assert err.value.param == "items"
        with pytest.raises(InvalidRequest, match="Duplicate item found with id msg_b"):
            await svc.create(ALICE, {"items": [user("a", id="msg_b"), user("b", id="msg_b")]})
        assert len((await svc.list_items(ALICE, conv["id"], PageRequest()))["data"]) == 1

    run(go())


def test_item_references_become_the_items_they_name():
    async def go() -> None:
        svc = conversations()
        first = await svc.create(ALICE, {"items": [user("from elsewhere")]})
        conv = await svc.create(ALICE, {"items": [{"type": "item_reference", "id": "msg_0001"}]})
        listed = await svc.list_items(ALICE, conv["id"], PageRequest())
        assert texts(listed["data"]) == ["from elsewhere"] and listed["data"][0]["id"] == "msg_0001"
        with pytest.raises(NotFound) as err:  # another tenant's item is as missing as any
            await svc.add_items(BOB, (await svc.create(BOB, {}))["id"],
                                {"items": [{"type": "item_reference", "id": "msg_0001"}]})
        assert (err.value.message, err.value.param) == ("Item with id 'msg_0001' not found.", "items[0].id")
        assert first["id"] != conv["id"]

    run(go())


# --------------------------------------------------------------------------- responses in a conversation


def both(up: FakeUpstream) -> tuple[ConversationsService, ResponsesService]:
    config = Settings(default_model="m", upstream_mode="chat")
    slot, ids = StoreSlot(config, MemoryStore()), SequentialIds()
    return (ConversationsService(config, slot, new_id=ids, clock=lambda: NOW),
            ResponsesService(config, Router(config, {DEFAULT: up}), vault=ReasoningVault(b"k"), store=slot,
                             new_id=ids, clock=lambda: NOW))


def test_responses_read_the_conversation_and_add_both_turns():
    up = FakeUpstream().push(answer("Paris."), answer("About 2 million."))

    async def go() -> None:
        convs, responses = both(up)
        conv = await convs.create(ALICE, {"items": [{"role": "system", "content": "Answer briefly."}]})
        r1 = await (await responses.create({"input": "Capital of France?", "conversation": conv["id"]},
                                           tenant=ALICE)).task
        assert r1["conversation"] == {"id": conv["id"]}
        await (await responses.create({"input": [user("Its population?")], "conversation": {"id": conv["id"]}},
                                      tenant=ALICE)).task
        listed = await convs.list_items(ALICE, conv["id"], PageRequest(order="asc"))
        assert [(i["type"], i["role"]) for i in listed["data"]] == [
            ("message", "system"), ("message", "user"), ("message", "assistant"), ("message", "user"),
            ("message", "assistant")]
        assert texts(listed["data"]) == ["Answer briefly.", "Capital of France?", "Paris.", "Its population?",
                                         "About 2 million."]

    run(go())
    second = up.calls[1][1]["messages"]
    assert second == [{"role": "system", "content": "Answer briefly."},
                      {"role": "user", "content": "Capital of France?"},
                      {"role": "assistant", "content": "Paris."},
                      {"role": "user", "content": "Its population?"}]


def test_store_false_in_a_conversation_still_adds_the_input_with_the_output():
    up = FakeUpstream().push(answer("Paris."))

    async def go() -> list[str]:
        convs, responses = both(up)
        conv = await convs.create(ALICE, {})
        await (await responses.create({"input": "Capital of France?", "conversation": conv["id"], "store": False},
                                      tenant=ALICE)).task
        return texts((await convs.list_items(ALICE, conv["id"], PageRequest(order="asc")))["data"])

    assert run(go()) == ["Capital of France?", "Paris."]


def test_a_response_cannot_add_an_item_the_conversation_holds():
    up = FakeUpstream()

    async def go() -> None:
        convs, responses = both(up)
        conv = await convs.create(ALICE, {"items": [user("hi", id="msg_mine")]})
        with pytest.raises(InvalidRequest, match="Duplicate item found with id msg_mine") as err:
            await responses.create({"input": [user("hi", id="msg_mine")], "conversation": conv["id"]}, tenant=ALICE)
        assert err.value.param == "input"
        with pytest.raises(NotFound, match=f"Conversation with id '{conv['id']}' not found."):
            await responses.create({"input": "hi", "conversation": conv["id"]}, tenant=BOB)

    run(go())
    assert up.calls == []
