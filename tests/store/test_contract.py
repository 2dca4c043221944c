"""One contract, every store backend (tests/store/backends.py): memory, SQLite, Postgres, and Redis for the
live state of runs. What the service will rely on: objects come back as they went in, each tenant sees only its
own (another tenant's object is simply not there), lists page by cursor as the API does, a chain is the turns in
order, expired objects go, and a run's events can be read from any sequence number on, waiting for more."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from openai_bridge.errors import InvalidRequest
from openai_bridge.store.base import Conversation, IdTaken, PageRequest, Store, StoredResponse, tenant_of
from tests.store.backends import BACKENDS, Clock, missing, opened

A, B = tenant_of("key-a"), tenant_of("key-b")
Body = Callable[[Store, Clock], Awaitable[None]]


@pytest.fixture(params=BACKENDS)
def use(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[Body], None]:
    why = missing(request.param)
    if why:
        pytest.skip(why)

    def run(body: Body) -> None:
        async def go() -> None:
            clock = Clock()
            async with opened(request.param, tmp_path, clock) as store:
                await body(store, clock)

        asyncio.run(go())

    return run


def message(item_id: str, text: str, role: str = "user") -> dict[str, Any]:
    return {"id": item_id, "type": "message", "role": role, "content": [{"type": "input_text", "text": text}]}


def response(response_id: str, output: list[dict[str, Any]], instructions: str | None = None,
             status: str = "completed") -> dict[str, Any]:
    return {"id": response_id, "object": "response", "created_at": 1, "status": status, "instructions": instructions,
            "output": output, "usage": {"input_tokens": 3, "output_tokens": 2}, "store": True}


def answer(item_id: str, text: str) -> dict[str, Any]:
    return {"id": item_id, "type": "message", "role": "assistant", "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}]}


def stored(response_id: str, inputs: list[dict[str, Any]], outputs: list[dict[str, Any]],
           previous: str | None = None, instructions: str | None = None, status: str = "completed") -> StoredResponse:
    return StoredResponse(response_id, response(response_id, outputs, instructions, status), inputs, previous)


def test_a_response_comes_back_as_it_went_in(use):
    async def body(s: Store, clock: Clock) -> None:
        r = stored("resp_1", [message("msg_1", "hi")], [answer("msg_2", "hello")], instructions="be brief")
        await s.put_response(A, r)
        got = await s.get_response(A, "resp_1")
        assert got == r
        assert list(got.response) == list(r.response)  # key order too: the object is served as it was
        assert got.output_items == [answer("msg_2", "hello")] and got.instructions == "be brief"

    use(body)


def test_a_put_replaces_and_a_delete_removes(use):
    async def body(s: Store, clock: Clock) -> None:
        await s.put_response(A, stored("resp_1", [message("msg_1", "hi")], [], status="in_progress"))
        await s.put_response(A, stored("resp_1", [message("msg_1", "hi")], [answer("msg_2", "yo")]))
        got = await s.get_response(A, "resp_1")
        assert got is not None and got.response["status"] == "completed" and got.output_items[0]["id"] == "msg_2"
        assert await s.delete_response(A, "resp_1") is True
        assert await s.get_response(A, "resp_1") is None
        assert await s.delete_response(A, "resp_1") is False
        assert await s.get_item(A, "msg_2") is None
        assert await s.list_input_items(A, "resp_1", PageRequest()) is None

    use(body)


def test_another_tenant_finds_nothing(use):
    async def body(s: Store, clock: Clock) -> None:
        await s.put_response(A, stored("resp_1", [message("msg_1", "hi")], [answer("msg_2", "yo")]))
        await s.create_conversation(A, Conversation("conv_1", 5, {"k": "v"}), [message("msg_3", "x")])
        assert await s.get_response(B, "resp_1") is None
        assert await s.list_input_items(B, "resp_1", PageRequest()) is None
        assert await s.get_item(B, "msg_1") is None and await s.get_item(B, "msg_2") is None
        assert await s.chain(B, "resp_1") is None
        assert await s.delete_response(B, "resp_1") is False
        assert await s.get_conversation(B, "conv_1") is None
        assert await s.update_conversation(B, "conv_1", {"k": "stolen"}) is None
        assert await s.list_conversation_items(B, "conv_1", PageRequest()) is None
        assert await s.append_conversation_items(B, "conv_1", [message("msg_9", "in")]) is False
        assert await s.get_conversation_item(B, "conv_1", "msg_3") is None
        assert await s.delete_conversation_item(B, "conv_1", "msg_3") is False
        assert await s.delete_conversation(B, "conv_1") is False
        with pytest.raises(IdTaken):  # nor can it overwrite A's response by putting the same id
            await s.put_response(B, stored("resp_1", [], []))
        # A's objects are untouched.
        assert (await s.get_response(A, "resp_1")).output_items[0]["id"] == "msg_2"
        conv = await s.get_conversation(A, "conv_1")
        assert conv == Conversation("conv_1", 5, {"k": "v"})
        page = await s.list_conversation_items(A, "conv_1", PageRequest(order="asc"))
        assert [i["id"] for i in page.data] == ["msg_3"]

    use(body)


def test_input_items_page_by_cursor(use):
    async def body(s: Store, clock: Clock) -> None:
        await s.put_response(A, stored("resp_1", [message(f"msg_{n}", str(n)) for n in range(5)], []))

        async def ids(**kw: Any) -> tuple[list[str], str | None, str | None, bool]:
            page = await s.list_input_items(A, "resp_1", PageRequest(**kw))
            return [i["id"] for i in page.data], page.first_id, page.last_id, page.has_more

        assert await ids() == (["msg_4", "msg_3", "msg_2", "msg_1", "msg_0"], "msg_4", "msg_0", False)  # desc default
        assert await ids(order="asc", limit=2) == (["msg_0", "msg_1"], "msg_0", "msg_1", True)
        assert await ids(order="asc", limit=2, after="msg_1") == (["msg_2", "msg_3"], "msg_2", "msg_3", True)
        assert await ids(order="asc", limit=2, after="msg_3") == (["msg_4"], "msg_4", "msg_4", False)
        assert await ids(order="desc", limit=2, after="msg_3") == (["msg_2", "msg_1"], "msg_2", "msg_1", True)
        assert await ids(order="asc", before="msg_2") == (["msg_0", "msg_1"], "msg_0", "msg_1", False)
        assert await ids(order="desc", before="msg_2") == (["msg_4", "msg_3"], "msg_4", "msg_3", False)
        assert await ids(order="asc", after="msg_0", before="msg_3") == (["msg_1", "msg_2"], "msg_1", "msg_2", False)
        assert await ids(order="asc", after="msg_4") == ([], None, None, False)
        with pytest.raises(InvalidRequest) as err:
            await ids(after="msg_nope")
        assert err.value.param == "after"

    use(body)


def test_items_are_found_by_id_newest_first(use):
    async def body(s: Store, clock: Clock) -> None:
        call = {"id": "fc_1", "type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"}
        await s.put_response(A, stored("resp_1", [message("msg_1", "hi")], [call]))
        assert await s.get_item(A, "fc_1") == call
        assert await s.get_item(A, "msg_1") == message("msg_1", "hi")
        # A client sends the call back as input of the next turn, changed: the newest one wins.
        resent = {**call, "status": "completed"}
        await s.put_response(A, stored("resp_2", [resent], [], previous="resp_1"))
        assert await s.get_item(A, "fc_1") == resent
        await s.create_conversation(A, Conversation("conv_1", 1), [message("msg_c", "in a conversation")])
        assert await s.get_item(A, "msg_c") == message("msg_c", "in a conversation")
        assert await s.get_item(A, "nope") is None

    use(body)


def test_a_chain_is_every_earlier_turn_in_order(use):
    async def body(s: Store, clock: Clock) -> None:
        call = {"id": "fc_1", "type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"}
        out = {"id": "fco_1", "type": "function_call_output", "call_id": "call_1", "output": "42"}
        await s.put_response(A, stored("resp_1", [message("msg_1", "q")], [call], instructions="first"))
        await s.put_response(A, stored("resp_2", [out], [answer("msg_2", "42 it is")], "resp_1", "second"))
        await s.put_response(A, stored("resp_3", [message("msg_3", "thanks")], [answer("msg_4", "np")], "resp_2"))
        turns = await s.chain(A, "resp_3")
        assert [(t.response_id, t.previous_response_id, t.instructions) for t in turns] == [
            ("resp_1", None, "first"), ("resp_2", "resp_1", "second"), ("resp_3", "resp_2", None)]
        assert [t.input_items for t in turns] == [[message("msg_1", "q")], [out], [message("msg_3", "thanks")]]
        assert [t.output_items for t in turns] == [[call], [answer("msg_2", "42 it is")], [answer("msg_4", "np")]]
        assert [t.response_id for t in await s.chain(A, "resp_2")] == ["resp_1", "resp_2"]
        assert await s.chain(A, "resp_nope") is None
        # A deleted turn ends the chain there; the oldest turn left says what it followed.
        await s.delete_response(A, "resp_1")
        turns = await s.chain(A, "resp_3")
        assert [(t.response_id, t.previous_response_id) for t in turns] == [("resp_2", "resp_1"), ("resp_3", "resp_2")]

    use(body)


def test_conversations(use):
    async def body(s: Store, clock: Clock) -> None:
        await s.create_conversation(A, Conversation("conv_1", 7, {"topic": "x"}), [message("msg_1", "a")])
        with pytest.raises(IdTaken):
            await s.create_conversation(A, Conversation("conv_1", 8))
        assert await s.update_conversation(A, "conv_1", {"topic": "y"}) == Conversation("conv_1", 7, {"topic": "y"})
        assert await s.get_conversation(A, "conv_1") == Conversation("conv_1", 7, {"topic": "y"})
        assert await s.append_conversation_items(A, "conv_1", [message("msg_2", "b"), answer("msg_3", "c")]) is True
        assert await s.append_conversation_items(A, "conv_1", [message("msg_4", "d")]) is True
        page = await s.list_conversation_items(A, "conv_1", PageRequest(order="asc", limit=3))
        assert [i["id"] for i in page.data] == ["msg_1", "msg_2", "msg_3"] and page.has_more
        page = await s.list_conversation_items(A, "conv_1", PageRequest(limit=2, after="msg_3"))
        assert [i["id"] for i in page.data] == ["msg_2", "msg_1"] and not page.has_more
        assert await s.get_conversation_item(A, "conv_1", "msg_3") == answer("msg_3", "c")
        assert await s.delete_conversation_item(A, "conv_1", "msg_3") is True
        assert await s.delete_conversation_item(A, "conv_1", "msg_3") is False
        assert await s.get_conversation_item(A, "conv_1", "msg_3") is None
        page = await s.list_conversation_items(A, "conv_1", PageRequest(order="asc"))
        assert [i["id"] for i in page.data] == ["msg_1", "msg_2", "msg_4"]
        assert await s.append_conversation_items(A, "conv_1", [message("msg_5", "e")]) is True
        page = await s.list_conversation_items(A, "conv_1", PageRequest())
        assert [i["id"] for i in page.data] == ["msg_5", "msg_4", "msg_2", "msg_1"]
        assert await s.delete_conversation(A, "conv_1") is True
        assert await s.get_conversation(A, "conv_1") is None
        assert await s.list_conversation_items(A, "conv_1", PageRequest()) is None
        assert await s.append_conversation_items(A, "conv_1", [message("msg_6", "f")]) is False
        assert await s.delete_conversation(A, "conv_1") is False

    use(body)


def test_items_without_an_id_are_refused(use):
    async def body(s: Store, clock: Clock) -> None:
        with pytest.raises(ValueError):
            await s.put_response(A, stored("resp_1", [{"type": "message", "role": "user", "content": "x"}], []))
        assert await s.get_response(A, "resp_1") is None

    use(body)


def test_expire_deletes_what_is_older_than_the_ttl(use):
    async def body(s: Store, clock: Clock) -> None:
        await s.put_response(A, stored("resp_old", [message("msg_1", "a")], [answer("msg_2", "b")]))
        await s.create_conversation(A, Conversation("conv_old", 1), [message("msg_3", "c")])
        await s.create_conversation(A, Conversation("conv_used", 1))
        clock.now += 100
        await s.append_conversation_items(A, "conv_used", [message("msg_4", "d")])  # changed: kept longer
        await s.put_response(A, stored("resp_new", [message("msg_5", "e")], []))
        clock.now += 50
        assert await s.expire(120) == 2
        assert await s.get_response(A, "resp_old") is None and await s.get_item(A, "msg_2") is None
        assert await s.get_conversation(A, "conv_old") is None and await s.get_item(A, "msg_3") is None
        assert await s.get_response(A, "resp_new") is not None
        assert await s.get_conversation(A, "conv_used") is not None
        assert await s.expire(120) == 0

    use(body)


def test_events_are_read_from_any_sequence_number(use):
    async def body(s: Store, clock: Clock) -> None:
        await s.append_events(A, "resp_1", [(0, b'{"n":0}'), (1, b'{"n":1}')])
        await s.append_events(A, "resp_1", [(2, b'{"n":2}')])
        got = await s.read_events(A, "resp_1")
        assert got.events == [(0, b'{"n":0}'), (1, b'{"n":1}'), (2, b'{"n":2}')] and not got.finished
        assert (await s.read_events(A, "resp_1", after=1)).events == [(2, b'{"n":2}')]
        assert (await s.read_events(A, "resp_1", after=2)).events == []
        assert (await s.read_events(B, "resp_1")).events == []  # another tenant's run is not there
        await s.finish_events(A, "resp_1")
        got = await s.read_events(A, "resp_1", after=2, wait=5)  # finished: returns at once, empty
        assert got.events == [] and got.finished
        assert (await s.read_events(A, "resp_1", after=0)).finished

    use(body)


def test_a_reader_waits_for_the_next_events(use):
    async def body(s: Store, clock: Clock) -> None:
        await s.append_events(A, "resp_1", [(0, b"a")])
        reader = asyncio.create_task(s.read_events(A, "resp_1", after=0, wait=30))
        await asyncio.sleep(0)
        await s.append_events(A, "resp_1", [(1, b"b"), (2, b"c")])
        got = await reader
        assert got.events[0] == (1, b"b") and not got.finished
        reader = asyncio.create_task(s.read_events(A, "resp_1", after=2, wait=30))
        await asyncio.sleep(0)
        await s.finish_events(A, "resp_1")
        assert (await reader).finished

    use(body)


def test_cancel_wakes_the_run_and_stays(use):
    async def body(s: Store, clock: Clock) -> None:
        assert await s.is_cancelled(A, "resp_1") is False
        waiter = asyncio.create_task(s.wait_cancelled(A, "resp_1"))
        await asyncio.sleep(0)
        await s.cancel(B, "resp_1")  # another tenant's cancel is not this run's
        assert await s.is_cancelled(A, "resp_1") is False
        await s.cancel(A, "resp_1")
        await asyncio.wait_for(waiter, 30)
        assert await s.is_cancelled(A, "resp_1") is True
        await asyncio.wait_for(s.wait_cancelled(A, "resp_1"), 30)  # already cancelled: returns at once

    use(body)


def test_a_run_says_it_is_alive(use):
    """The heartbeat of a background run, by the store's clock, per tenant."""
    async def body(s: Store, clock: Clock) -> None:
        assert await s.last_beat(A, "resp_1") is None
        await s.beat(A, "resp_1")
        assert await s.last_beat(A, "resp_1") == clock.now
        assert await s.last_beat(B, "resp_1") is None  # another tenant's run of that id has never beaten
        clock.now += 7.5
        await s.beat(A, "resp_1")
        assert await s.last_beat(A, "resp_1") == clock.now

    use(body)
