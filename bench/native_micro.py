"""Micro-benchmark of the native stream repair on one core: upstream Responses events -> repaired SSE frames.

    uv run python bench/native_micro.py [--seconds 3] [--deltas 50] [--json]

Two streams of `--deltas` text deltas: one shaped as llama.cpp sends it (no sequence numbers or indexes,
bare snapshots; built like tests/cases_native/llamacpp_text) and one already well formed (the bridge's own
stream for the same answer). Each is timed three ways, every one starting from the event's JSON bytes
(`orjson.loads`, which the upstream layer does for every event anyway): `frame` alone (decode and re-frame,
what forwarding a stream event by event costs without any repair), `StreamRepair.feed` + `frame`, and
`StreamRepair.feed` alone. No I/O, one thread; times are CPU time (`time.process_time`), so that other
work on the machine inflates them less.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import orjson

from openai_bridge.translate import StreamRepair, StreamTranslator
from openai_bridge.wire.sse import frame

WORDS = ["The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog", "."]
REQUEST = {"model": "bench-model", "input": "Write a one-line greeting.", "stream": True, "max_output_tokens": 500}
Event = dict[str, object]


def llamacpp_events(deltas: int) -> list[Event]:
    rid, mid = "resp_" + "a" * 32, "msg_" + "b" * 32
    bare = {"id": rid, "object": "response", "status": "in_progress"}
    text = "".join(WORDS[i % len(WORDS)] for i in range(deltas))
    part = {"type": "output_text", "annotations": [], "logprobs": [], "text": text}
    item = {"type": "message", "status": "completed", "id": mid, "content": [part], "role": "assistant"}
    return [
        {"type": "response.created", "response": bare},
        {"type": "response.in_progress", "response": bare},
        {"type": "response.output_item.added",
         "item": {"content": [], "id": mid, "role": "assistant", "status": "in_progress", "type": "message"}},
        {"type": "response.content_part.added", "item_id": mid, "part": {"type": "output_text", "text": ""}},
        *({"type": "response.output_text.delta", "item_id": mid, "delta": WORDS[i % len(WORDS)]}
          for i in range(deltas)),
        {"type": "response.output_text.done", "item_id": mid, "text": text},
        {"type": "response.content_part.done", "item_id": mid, "part": part},
        {"type": "response.output_item.done", "item": item},
        {"type": "response.completed", "response": {
            "id": rid, "object": "response", "created_at": 1_700_000_000, "status": "completed",
            "model": "bench-model", "output": [item],
            "usage": {"input_tokens": 10, "output_tokens": deltas, "total_tokens": 10 + deltas}}},
    ]


def well_formed_events(deltas: int) -> list[Event]:
    m = StreamTranslator(REQUEST, model="bench-model", new_id=lambda p: f"{p}_{'c' * 32}", clock=lambda: 1_700_000_000)
    events = m.start()
    for i in range(deltas):
        events += m.feed({"choices": [{"index": 0, "delta": {"content": WORDS[i % len(WORDS)]}}]})
    events += m.feed({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                      "usage": {"prompt_tokens": 10, "completion_tokens": deltas, "total_tokens": 10 + deltas}})
    events += m.finish()
    # As an upstream sends them: each event its own decoded JSON (the machine must not share objects).
    return [orjson.loads(orjson.dumps(e)) for e in events]


def measure(events: list[Event], seconds: float, mode: str) -> dict[str, object]:
    raw = [orjson.dumps(e) for e in events]
    n = [0]

    def new_id(prefix: str) -> str:
        n[0] += 1
        return f"{prefix}_{n[0]:048x}"

    def clock() -> int:
        return 1_700_000_000

    run: Callable[[], int]
    if mode == "frame":
        def run() -> int:
            for b in raw:
                frame(orjson.loads(b))
            return len(raw)
    else:
        def run() -> int:
            m = StreamRepair(REQUEST, model="bench-model", new_id=new_id, clock=clock)
            out = 0
            for b in raw:
                batch = m.feed(None, orjson.loads(b))
                if mode == "repair+frame":
                    for e in batch:
                        frame(e)
                out += len(batch)
            return out + len(m.finish())

    streams = events_in = 0
    t0 = time.process_time()
    deadline = t0 + seconds
    while True:
        for _ in range(20):
            run()
            streams += 1
            events_in += len(raw)
        t = time.process_time()
        if t >= deadline:
            break
    elapsed = t - t0
    return {"mode": mode, "events_in_s": round(events_in / elapsed), "streams_s": round(streams / elapsed, 1),
            "us_per_event": round(elapsed / events_in * 1e6, 2)}


def main() -> None:
    p = argparse.ArgumentParser(description="native repair micro-benchmark")
    p.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    p.add_argument("--deltas", type=int, default=50)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    results = []
    for name, events in (("llama.cpp", llamacpp_events(a.deltas)), ("well-formed", well_formed_events(a.deltas))):
        measure(events, 0.3, "repair")  # warm-up
        for mode in ("frame", "repair+frame", "repair"):
            results.append({"stream": name, "events": len(events), **measure(events, a.seconds, mode)})
    if a.json:
        print(json.dumps(results))
        return
    print("every mode includes orjson.loads of each event (the upstream's decoding)")
    for r in results:
        print(f"{r['stream']:>12} ({r['events']} events) {r['mode']:>13}: {r['events_in_s']:>9,} events/s  "
              f"{r['streams_s']:>8,} streams/s  {r['us_per_event']} us/event")


if __name__ == "__main__":
    main()
