"""Replicas: the least busy first; another one when a replica fails before answering; busy answers waited
for when their Retry-After is short, and passed on with it otherwise."""

import asyncio
from typing import Any

import pytest

from openai_bridge.errors import UpstreamError, UpstreamTimeout, UpstreamUnreachable
from openai_bridge.testing import FakeUpstream, answer, error_body, json, sse, text_chunks
from openai_bridge.upstream.replicas import Replicas

REQUEST: Any = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


class Failing(FakeUpstream):
    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    async def chat(self, request: Any) -> Any:
        self.calls.append(("chat", request))
        raise self.error


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_an_unreachable_replica_is_left_for_the_next():
    dead, alive = Failing(UpstreamUnreachable("Cannot reach the upstream")), FakeUpstream(answer("ok"))
    replicas = Replicas([("a", dead), ("b", alive)])
    for _ in range(4):  # whichever comes first in turn
        assert run(replicas.chat(REQUEST))["choices"][0]["message"]["content"] == "ok"
    assert len(alive.calls) == 4 and len(dead.calls) >= 1


def test_a_5xx_before_any_answer_goes_to_the_next_replica_but_a_4xx_does_not():
    broken = FakeUpstream().push(*[json(error_body("boom", type="server_error"), status=500)] * 4)
    healthy = FakeUpstream(answer("ok"))
    replicas = Replicas([("a", broken), ("b", healthy)])
    assert all(run(replicas.chat(REQUEST))["choices"][0]["message"]["content"] == "ok" for _ in range(2))
    refusing = FakeUpstream().push(*[json(error_body("context too long"), status=400)] * 2)
    replicas = Replicas([("a", refusing), ("b", FakeUpstream().push(*[json(error_body("too long"), status=400)] * 2))])
    with pytest.raises(UpstreamError) as caught:
        run(replicas.chat(REQUEST))
    assert caught.value.status == 400


def test_a_timeout_is_not_retried_it_may_have_generated():
    slow, other = Failing(UpstreamTimeout("nothing for 600 s")), FakeUpstream(answer("ok"))
    replicas = Replicas([("a", slow), ("b", other)])
    outcomes = []
    for _ in range(2):
        try:
            outcomes.append(run(replicas.chat(REQUEST))["choices"][0]["message"]["content"])
        except UpstreamTimeout:
            outcomes.append("timeout")
    assert sorted(outcomes) == ["ok", "timeout"]


def test_streams_go_to_the_replica_with_the_fewest_under_way():
    a, b = FakeUpstream(sse(text_chunks("a"))), FakeUpstream(sse(text_chunks("b")))
    replicas = Replicas([("a", a), ("b", b)])

    async def go() -> list[Any]:
        first = await replicas.chat_stream(REQUEST)  # still open: its replica stays busy
        second = await replicas.chat_stream(REQUEST)
        third_after_close = None
        await second.aclose()
        third_after_close = await replicas.chat_stream(REQUEST)
        await first.aclose()
        await third_after_close.aclose()
        return [first, second, third_after_close]

    run(go())
    assert len(a.calls) + len(b.calls) == 3
    assert {len(a.calls), len(b.calls)} == {1, 2}  # the first two went to different replicas
    assert replicas.under_way == [0, 0]


def test_busy_with_a_short_retry_after_is_retried():
    busy = FakeUpstream(answer("ok"))
    busy.push(json(error_body("loading model"), status=503, headers=[("Retry-After", "0")]))
    assert run(Replicas([("a", busy)]).chat(REQUEST))["choices"][0]["message"]["content"] == "ok"
    assert len(busy.calls) == 2


def test_busy_with_a_long_retry_after_is_passed_on_with_it():
    busy = FakeUpstream(answer("ok"))
    busy.push(json(error_body("rate limited"), status=429, headers=[("Retry-After", "30")]))
    with pytest.raises(UpstreamError) as caught:
        run(Replicas([("a", busy)]).chat(REQUEST))
    assert (caught.value.status, caught.value.retry_after) == (429, "30")
    assert len(busy.calls) == 1


def test_one_busy_replica_sends_the_request_to_the_other_at_once():
    busy = FakeUpstream().push(*[json(error_body("rate limited"), status=429, headers=[("Retry-After", "30")])] * 2)
    free = FakeUpstream(answer("ok"))
    replicas = Replicas([("a", busy), ("b", free)])
    for _ in range(2):
        assert run(replicas.chat(REQUEST))["choices"][0]["message"]["content"] == "ok"
