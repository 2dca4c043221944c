"""The responses service against the in-process fake upstream: its policy decisions, and runs whose
producer never waits for a sink. No sockets."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
import pytest

from openai_bridge.errors import InvalidRequest, ServerShuttingDown, UpstreamError, UpstreamProtocolError
from openai_bridge.ids import SequentialIds
from openai_bridge.routing import DEFAULT, Router
from openai_bridge.runs.sinks import write_sse
from openai_bridge.service.responses import ResponsesService
from openai_bridge.settings import Settings
from openai_bridge.store.memory import MemoryStore
from openai_bridge.store.open import StoreSlot
from openai_bridge.testing import FakeUpstream, answer, chunk, drop_after, json, pause, sse
from openai_bridge.translate import Options
from openai_bridge.vault import ReasoningVault


def service(upstream: FakeUpstream, **settings: Any) -> ResponsesService:
    config = Settings(default_model="m", **settings)
    return ResponsesService(config, Router(config, {DEFAULT: upstream}), vault=ReasoningVault(b"k"),
                            store=StoreSlot(config, MemoryStore()), new_id=SequentialIds(), clock=lambda: 1700000000)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.mark.parametrize(("body", "param"), [({"background": True, "store": False}, "store"),
                                             ({"background": "yes"}, "background")])
def test_background_needs_a_boolean_and_the_store(body: dict[str, Any], param: str):
    up = FakeUpstream()

    async def go() -> None:
        with pytest.raises(InvalidRequest) as err:
            await service(up, upstream_mode="chat").create({"input": "hi", **body})
        assert (err.value.param, err.value.status) == (param, 400)

    run(go())
    assert up.calls == []


def test_background_false_and_nulls_are_fine():
    async def go() -> dict[str, Any]:
        r = (await service(FakeUpstream()).create({"input": "hi", "background": False, "previous_response_id": None,
                                            "conversation": None}))
        return await r.task

    assert run(go())["status"] == "completed"


def test_non_stream_failure_is_the_tasks_exception():
    up = FakeUpstream(json({"error": {"message": "no such model"}}, status=404))

    async def go() -> None:
        with pytest.raises(UpstreamError, match="no such model") as err:
            await (await service(up).create({"input": "hi"})).task
        assert err.value.status == 404

    run(go())


def test_stream_refused_at_once_is_an_open_error():
    up = FakeUpstream(json({"error": {"message": "context too long"}}, status=400))

    async def go() -> None:
        r = (await service(up).create({"input": "hi", "stream": True}))
        with pytest.raises(UpstreamError, match="context too long"):
            await r.wait_opened(5)

    run(go())


def test_stream_accepted_then_failing_ends_the_log_with_failed_and_keeps_what_came():
    up = FakeUpstream(drop_after([chunk(content="Hel"), chunk(content="lo")]))

    async def go() -> list[dict[str, Any]]:
        r = (await service(up).create({"input": "hi", "stream": True}))
        await r.wait_opened(5)
        await r.task
        return r.log.events

    events = run(go())
    assert [e["delta"] for e in events if e["type"] == "response.output_text.delta"] == ["Hel", "lo"]
    assert events[-1]["type"] == "response.failed"
    assert events[-1]["response"]["error"]["code"] == "upstream_bad_response"
    assert [e["sequence_number"] for e in events] == list(range(len(events)))


def test_the_producer_never_waits_for_a_sink():
    """Nobody reads the log: the run still reads the whole upstream answer and ends it properly."""
    up = FakeUpstream(sse([chunk(content="a"), pause(0.05), chunk(content="b"), pause(0.05),
                           chunk(finish_reason="stop")]))

    async def go() -> Any:
        r = (await service(up).create({"input": "hi", "stream": True}))
        await asyncio.wait_for(r.task, 5)
        return r.log

    log = run(go())
    assert log.closed and log.events[-1]["type"] == "response.completed"
    assert up.closed == 1


def test_a_slow_sink_loses_nothing():
    """The sink blocks in its first write for longer than the whole upstream answer takes: every event still
    arrives, in order, once it writes again."""
    up = FakeUpstream(sse([chunk(content=str(i)) if i % 2 == 0 else pause(0.02) for i in range(40)]
                          + [chunk(finish_reason="stop")]))

    async def go() -> bytes:
        r = (await service(up).create({"input": "hi", "stream": True}))
        written: list[bytes] = []

        async def write(data: bytes) -> None:
            if not written:
                await asyncio.sleep(0.6)  # the client stops reading
            written.append(data)

        await write_sse(r.log, write, keepalive=10)
        return b"".join(written)

    blob = run(go())
    events = [orjson.loads(line[6:]) for line in blob.split(b"\n") if line.startswith(b"data: ")]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[-1]["type"] == "response.completed"
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == "".join(str(i) for i in range(0, 40, 2))


def test_sink_writes_keepalives_while_the_log_is_quiet():
    up = FakeUpstream(sse([pause(0.35), chunk(content="a"), chunk(finish_reason="stop")]))

    async def go() -> list[bytes]:
        r = (await service(up).create({"input": "hi", "stream": True}))
        written: list[bytes] = []

        async def write(data: bytes) -> None:
            written.append(data)

        await write_sse(r.log, write, keepalive=0.1)
        return written

    written = run(go())
    assert written.count(b": keepalive\n\n") >= 2
    assert written[0].startswith(b"event: response.created")


def test_cancelling_the_run_closes_the_upstream_stream():
    up = FakeUpstream(sse([chunk(content="a"), pause(30), chunk(finish_reason="stop")]))

    async def go() -> None:
        r = (await service(up).create({"input": "hi", "stream": True}))
        await r.wait_opened(5)
        await r.log.wait(2, timeout=5)  # created, in_progress, then the first delta
        r.cancel()
        with pytest.raises(asyncio.CancelledError):
            await r.task

    run(go())
    assert up.closed == 1


def test_answer_default_is_the_scripted_one():
    up = FakeUpstream(answer("Hello", reasoning_content="Thinking"))

    async def go() -> dict[str, Any]:
        return await (await service(up).create({"input": "hi"})).task

    response = run(go())
    assert [item["type"] for item in response["output"]] == ["reasoning", "message"]
    # auto mode: /responses first (404: a chat-only server), then the same request through chat
    assert [method for method, _ in up.calls] == ["responses", "chat"]
    assert up.calls[1][1]["messages"] == [{"role": "user", "content": "hi"}]


USAGE_ONLY = {"id": "c", "object": "chat.completion.chunk", "choices": [], "usage": {"prompt_tokens": 3}}


@pytest.mark.parametrize("chunks", [[USAGE_ONLY], [chunk(role="assistant"), USAGE_ONLY], []],
                         ids=["usage only", "role only (a choice with nothing in it)", "nothing"])
def test_a_stream_with_no_choice_before_done_fails(chunks: list[dict[str, Any]]):
    up = FakeUpstream(sse(chunks))

    async def go() -> list[dict[str, Any]]:
        r = (await service(up).create({"input": "hi", "stream": True}))
        await r.task
        return r.log.events

    events = run(go())
    assert [e["type"] for e in events] == ["response.created", "response.in_progress", "response.failed"]
    error = events[-1]["response"]["error"]
    assert error["code"] == "upstream_bad_response" and "no choice" in error["message"]


@pytest.mark.parametrize("completion", [
    {"id": "c", "object": "chat.completion", "choices": [], "usage": {"prompt_tokens": 3}},
    {"id": "c", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant"}}]},
], ids=["no choices", "empty choice"])
def test_a_completion_with_no_choice_is_a_502(completion: dict[str, Any]):
    up = FakeUpstream(json(completion))

    async def go() -> None:
        with pytest.raises(UpstreamProtocolError, match="no choice") as err:
            await (await service(up).create({"input": "hi"})).task
        assert err.value.status == 502


def test_shut_down_ends_a_stream_under_way_with_failed():
    up = FakeUpstream(sse([chunk(content="Hel"), chunk(content="lo"), pause(30), chunk(finish_reason="stop")]))

    async def go() -> tuple[Any, int]:
        s = service(up)
        r = (await s.create({"input": "hi", "stream": True}))
        await r.wait_opened(5)
        while not any(e["type"] == "response.output_text.delta" and e["delta"] == "lo" for e in r.log.events):
            await r.log.wait(len(r.log.events), timeout=5)
        ended = s.shut_down()
        await asyncio.wait_for(r.task, 5)
        return r.log, ended

    log, ended = run(go())
    assert ended == 1 and log.closed
    failed = log.events[-1]
    assert failed["type"] == "response.failed"
    assert failed["response"]["error"]["code"] == "server_shutting_down"
    assert "shutting down" in failed["response"]["error"]["message"]
    assert failed["response"]["output"][0]["content"][0]["text"] == "Hello"  # what was streamed is kept
    assert [e["sequence_number"] for e in log.events] == list(range(len(log.events)))
    assert up.closed == 1


def test_shut_down_fails_a_waiting_answer_with_503_and_refuses_new_runs():
    up = FakeUpstream(json({"choices": []}, delay=30))

    async def go() -> None:
        s = service(up)
        r = (await s.create({"input": "hi"}))
        await asyncio.sleep(0.05)  # the upstream request is out
        assert s.shut_down() == 1
        with pytest.raises(ServerShuttingDown) as err:
            await asyncio.wait_for(r.task, 5)
        assert (err.value.status, err.value.code, err.value.type) == (503, "server_shutting_down", "server_error")
        with pytest.raises(ServerShuttingDown):
            (await s.create({"input": "hi"}))
        assert s.runs == set()

    run(go())


def test_an_empty_text_with_a_finish_reason_is_an_answer():
    up = FakeUpstream(sse([chunk(content=""), chunk(finish_reason="stop")]))

    async def go() -> dict[str, Any]:
        return await (await service(up).create({"input": "hi", "stream": True})).task

    assert run(go())["status"] == "completed"


# ---- reasoning with only a closing tag (R1-distill templates put <think> in the prompt) -----------------

CLOSING_ONLY = ["Let me", " see: 2+2", "=4.</th", "ink>\n\nIt is", " 4."]


def kinds_and_texts(response: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for item in response["output"]:
        if item["type"] == "reasoning":
            out.append(("reasoning", item["content"][0]["text"]))
        elif item["type"] == "message":
            out.append(("message", item["content"][0]["text"]))
    return out


SPLIT = [("reasoning", "Let me see: 2+2=4."), ("message", "It is 4.")]


def test_a_non_stream_answer_that_only_closes_the_block_is_split_at_once():
    up = FakeUpstream(answer("".join(CLOSING_ONLY)))

    async def go() -> dict[str, Any]:
        return await (await service(up).create({"input": "2+2?"})).task

    assert kinds_and_texts(run(go())) == SPLIT


def test_streams_of_a_model_seen_answering_so_are_split_from_then_on(caplog: pytest.LogCaptureFixture):
    up = FakeUpstream()
    stream = sse([chunk(content=p) for p in CLOSING_ONLY] + [chunk(finish_reason="stop")])
    up.push(stream, stream, stream)

    async def go() -> list[dict[str, Any]]:
        s = service(up)
        first = await (await s.create({"model": "r1-distill", "input": "2+2?", "stream": True})).task
        second = await (await s.create({"model": "r1-distill", "input": "2+2?", "stream": True})).task
        other = await (await s.create({"model": "another", "input": "2+2?", "stream": True})).task
        return [first, second, other]

    with caplog.at_level(logging.INFO, "openai_bridge"):
        first, second, other = run(go())
    assert kinds_and_texts(first) == [("message", "".join(CLOSING_ONLY))]  # already sent: not taken back
    assert kinds_and_texts(second) == SPLIT
    assert kinds_and_texts(other) == [("message", "".join(CLOSING_ONLY))]  # learnt per model
    assert caplog.text.count("model r1-distill answers 'reasoning...</think>answer'") == 1


def test_think_tags_implicit_splits_the_first_stream_already():
    up = FakeUpstream(sse([chunk(content=p) for p in CLOSING_ONLY] + [chunk(finish_reason="stop")]))

    async def go() -> dict[str, Any]:
        s = service(up, translate=Options(think_tags="implicit"))
        return await (await s.create({"input": "2+2?", "stream": True})).task

    assert kinds_and_texts(run(go())) == SPLIT


def test_without_think_tags_nothing_is_split_or_learnt():
    up = FakeUpstream(answer("".join(CLOSING_ONLY)))

    async def go() -> tuple[dict[str, Any], set[str]]:
        s = service(up, translate=Options(think_tags=False))
        return await (await s.create({"model": "r1-distill", "input": "2+2?"})).task, s.closing_think_models

    response, learnt = run(go())
    assert kinds_and_texts(response) == [("message", "".join(CLOSING_ONLY))] and learnt == set()


@pytest.mark.parametrize("stream", [True, False])
def test_shut_down_right_after_create_still_ends_the_run_properly(stream: bool):
    """Told to stop before its task has taken a single step, a run still ends the way a stopped run ends."""
    up = FakeUpstream(sse([pause(30), chunk(finish_reason="stop")]) if stream else json({"choices": []}, delay=30))

    async def go() -> Any:
        s = service(up)
        r = (await s.create({"input": "hi", "stream": stream}))
        s.shut_down()
        if not stream:
            with pytest.raises(ServerShuttingDown):
                await asyncio.wait_for(r.task, 5)
            return None
        await asyncio.wait_for(r.task, 5)
        return r.log

    log = run(go())
    if stream:
        assert log.closed and log.events[-1]["type"] == "response.failed"
        assert log.events[-1]["response"]["error"]["code"] == "server_shutting_down"


def test_shut_down_leaves_finished_runs_alone():
    async def go() -> tuple[int, Any]:
        s = service(FakeUpstream())
        r = (await s.create({"input": "hi", "stream": True}))
        await r.task
        return s.shut_down(), r.log

    ended, log = run(go())
    assert ended == 0 and log.events[-1]["type"] == "response.completed"


class SlowStore(MemoryStore):
    """A store whose puts take a while, as a busy database's do."""

    async def put_response(self, tenant: str, response: Any) -> None:
        await asyncio.sleep(0.2)
        await super().put_response(tenant, response)


@pytest.mark.parametrize("stream", [True, False])
def test_the_response_is_stored_before_the_client_can_see_it_end(stream: bool):
    """The terminal event (or the JSON answer) only once the put has returned: a response the client saw
    completed is there, whatever the store's speed."""
    store = SlowStore()
    config = Settings(default_model="m")
    s = ResponsesService(config, Router(config, {DEFAULT: FakeUpstream()}), vault=ReasoningVault(b"k"),
                         store=StoreSlot(config, store), new_id=SequentialIds(), clock=lambda: 1700000000)

    async def go() -> None:
        r = await s.create({"input": "hi", "stream": stream})
        seen = 0
        while not r.log.closed or seen < len(r.log.events):
            for event in r.log.events[seen:]:
                if event["type"] == "response.completed":
                    assert await store.get_response("", event["response"]["id"]) is not None
            seen = len(r.log.events)
            await r.log.wait(seen, timeout=5)
        response = await r.task
        assert await store.get_response("", response["id"]) is not None

    run(go())
