"""Background responses (`background: true`) with the real `openai` SDK: answered at once, polled, cancelled
(the upstream request with it), and a dropped stream resumed with `starting_after` at the next event, with the
same sequence numbers, also on another bridge sharing the store (SQLite, or Postgres; with Redis or without)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import orjson
import pytest
from openai import OpenAI

from openai_bridge.settings import Settings, Timeouts
from openai_bridge.testing import ScriptedUpstream, pause, running_bridge, sse, text_chunks
from tests.store.backends import REDIS_URL, missing
from tests.support.conformance import Recorder

TIMEOUTS = Timeouts(connect=2.0, first_byte=10.0, idle=10.0)
WORDS = [f"w{n} " for n in range(8)]


def slow_answer(gap: float = 0.15) -> object:
    """A chat stream of eight words, `gap` seconds apart."""
    chunks: list[object] = []
    for c in text_chunks(*WORDS):
        chunks += [c, pause(gap)]
    return sse(chunks)


@pytest.fixture
def upstream() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream() as up:
        yield up


def bridge(upstream: ScriptedUpstream, conformance: Recorder, **settings: object):  # type: ignore[no-untyped-def]
    config = Settings(upstream=upstream.base_url, default_model="m", keepalive=0.2, timeouts=TIMEOUTS,
                      **settings)  # type: ignore[arg-type]
    return running_bridge(config, wrap=conformance.wrap)


def sdk(url: str, key: str = "k1") -> OpenAI:
    return OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=10)


def poll(client: OpenAI, response_id: str, until: tuple[str, ...] = ("completed", "failed", "cancelled")) -> object:
    deadline = time.monotonic() + 10
    while True:
        r = client.responses.retrieve(response_id)
        if r.status in until or time.monotonic() > deadline:
            return r
        time.sleep(0.05)


def events_of(raw: bytes) -> list[dict]:
    return [orjson.loads(line[6:]) for line in raw.split(b"\n") if line.startswith(b"data: ")]


def replayed(http: httpx.Client, url: str, within: float = 15, **params: object) -> list[dict]:
    """The events of `GET url?stream=true&...`, which must end within `within` seconds (a replay that never ends
    sends keepalives forever: no read timeout would catch it)."""
    deadline = time.monotonic() + within
    with http.stream("GET", url, params={"stream": "true", **params}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        lines = []
        for line in r.iter_lines():
            lines.append(line)
            assert time.monotonic() < deadline, "the replayed stream did not end"
    return events_of("\n".join(lines).encode())


def test_background_is_answered_at_once_and_polled_to_completion(upstream: ScriptedUpstream, conformance: Recorder):
    upstream.push(slow_answer(0.1))
    with bridge(upstream, conformance) as url, sdk(url) as client:
        started = time.monotonic()
        first = client.responses.create(model="m", input="count", background=True)
        assert time.monotonic() - started < 0.5  # not after the eight words
        assert first.status in ("queued", "in_progress") and first.background is True and first.store is True
        done = poll(client, first.id)
        assert done.status == "completed" and done.output_text == "".join(WORDS)  # type: ignore[attr-defined]
        # The run went on without anyone waiting on it: the upstream answered in full.
        assert upstream.completed == 1 and not upstream.disconnected.is_set()


def test_background_needs_store(upstream: ScriptedUpstream, conformance: Recorder):
    with bridge(upstream, conformance) as url, sdk(url) as client:
        with pytest.raises(openai.BadRequestError) as err:
            client.responses.create(model="m", input="hi", background=True, store=False)
        assert err.value.body["param"] == "store"  # type: ignore[index]
    assert upstream.requests == []


def test_cancel_stops_the_upstream_request_and_stays_cancelled(upstream: ScriptedUpstream, conformance: Recorder):
    upstream.push(slow_answer(0.5))
    with bridge(upstream, conformance) as url, sdk(url) as client:
        first = client.responses.create(model="m", input="count", background=True)
        time.sleep(0.3)
        cancelled = client.responses.cancel(first.id)
        assert cancelled.status == "cancelled"
        assert upstream.disconnected.wait(2)  # the upstream request was cancelled with it
        time.sleep(0.5)
        assert client.responses.retrieve(first.id).status == "cancelled"
        assert client.responses.cancel(first.id).status == "cancelled"  # again: as it is
        # Not another tenant's to cancel, nor a foreground response's.
        with sdk(url, "k2") as other, pytest.raises(openai.NotFoundError):
            other.responses.cancel(first.id)
        upstream.push(text_chunks("fine"))
        foreground = client.responses.create(model="m", input="hi")
        with pytest.raises(openai.BadRequestError):
            client.responses.cancel(foreground.id)


def test_a_dropped_background_stream_resumes_at_the_next_event(upstream: ScriptedUpstream, conformance: Recorder):
    upstream.push(slow_answer(0.1))
    with bridge(upstream, conformance) as url:
        seen: list[dict] = []
        with httpx.Client(base_url=url, timeout=10, headers={"authorization": "Bearer k1"}) as http:
            with http.stream("POST", "/v1/responses",
                             json={"model": "m", "input": "count", "stream": True, "background": True}) as r:
                for line in r.iter_lines():
                    if line.startswith("data: "):
                        seen.append(orjson.loads(line[6:]))
                        if seen[-1]["type"] == "response.output_text.delta":
                            break  # the connection drops here
            response_id = seen[0]["response"]["id"]
            last = seen[-1]["sequence_number"]
            rest = replayed(http, f"/v1/responses/{response_id}", starting_after=last)
            # From the next event on, with the same numbers, to the terminal event.
            assert [e["sequence_number"] for e in rest] == list(range(last + 1, last + 1 + len(rest)))
            assert rest[-1]["type"] == "response.completed"
            text = "".join(e["delta"] for e in seen + rest if e["type"] == "response.output_text.delta")
            assert text == "".join(WORDS)
            # The whole stream again, from the start.
            again = replayed(http, f"/v1/responses/{response_id}")
            assert [e["sequence_number"] for e in again] == list(range(len(again)))
            assert again[:len(seen)] == seen
            # Not for another tenant.
            gone = http.get(f"/v1/responses/{response_id}", params={"stream": "true"},
                            headers={"authorization": "Bearer k2"})
            assert gone.status_code == 404 and gone.json()["error"]["param"] == "response_id"
    assert upstream.completed == 1


@pytest.mark.parametrize(("records", "live"), [("sqlite", "store"), ("sqlite", "redis"), ("postgres", "store"),
                                               ("postgres", "redis")])
def test_resume_and_cancel_on_another_bridge(upstream: ScriptedUpstream, conformance: Recorder, tmp_path: Path,
                                             request: pytest.FixtureRequest, records: str, live: str):
    """Two bridges on one SQLite file (two workers of one machine) or one Postgres (two replicas), the live events
    in the store or in Redis: a background stream made on one is resumed, retrieved and cancelled on the other."""
    if live == "redis" and (why := missing("redis")):
        pytest.skip(why)
    store = f"sqlite:///{tmp_path}/store.sqlite3" if records == "sqlite" else request.getfixturevalue("postgres_url")
    shared: dict[str, object] = {"store": store}
    if live == "redis":
        shared["redis_url"] = REDIS_URL
    upstream.push(slow_answer(0.1), slow_answer(0.5))
    with (bridge(upstream, conformance, **shared) as one, bridge(upstream, conformance, **shared) as two,
          httpx.Client(timeout=10, headers={"authorization": "Bearer k1"}) as http):
        created = http.post(one + "/v1/responses",
                            json={"model": "m", "input": "count", "stream": True, "background": True},
                            headers={"accept": "text/event-stream"})
        first = events_of(created.content)
        response_id = first[0]["response"]["id"]
        resumed = replayed(http, two + f"/v1/responses/{response_id}", starting_after=2)
        assert resumed == first[3:]
        with sdk(two) as client:
            assert client.responses.retrieve(response_id).status == "completed"

        second = http.post(one + "/v1/responses", json={"model": "m", "input": "count", "background": True})
        with sdk(two) as client:
            assert client.responses.cancel(second.json()["id"]).status == "cancelled"
        assert upstream.disconnected.wait(3)
