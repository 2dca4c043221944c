"""Micro-benchmark of the pure translator on one core: chat chunks -> Responses SSE frames.

    uv run python bench/translate_micro.py [--seconds 3] [--deltas 50] [--json]

One "stream" = `StreamTranslator.start()`, `feed()` of a role chunk, `--deltas` content-delta chunks,
a finish chunk and a usage chunk, then `finish()`; every event returned goes through
`openai_bridge.wire.sse.frame`. Printed: chat chunks/s and streams/s, once for already-parsed chunks
(translate + frame) and once including `orjson.loads` of each chunk's bytes (the bridge's real work per
chunk, minus the network). No I/O, one thread.
"""

from __future__ import annotations

import argparse
import json
import time

import orjson

from openai_bridge.translate import StreamTranslator
from openai_bridge.wire.sse import frame

WORDS = ["The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog", "."]


def chunks(deltas: int) -> list[dict]:
    base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1_700_000_000,
            "model": "bench-model"}
    out = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}]
    out += [{**base, "choices": [{"index": 0, "delta": {"content": WORDS[i % len(WORDS)]}, "finish_reason": None}]}
            for i in range(deltas)]
    out.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    out.append({**base, "choices": [],
                "usage": {"prompt_tokens": 10, "completion_tokens": deltas, "total_tokens": 10 + deltas}})
    return out


def measure(seconds: float, deltas: int, parse: bool) -> dict:
    parsed = chunks(deltas)
    raw = [orjson.dumps(c) for c in parsed]
    request = {"model": "bench-model", "input": "Write a one-line greeting.", "stream": True}
    n = [0]

    def new_id(prefix: str) -> str:
        n[0] += 1
        return f"{prefix}_{n[0]:048x}"

    def clock() -> int:
        return 1_700_000_000

    streams = 0
    out_bytes = 0
    events = 0
    t0 = time.perf_counter()
    deadline = t0 + seconds
    while True:
        for _ in range(20):
            m = StreamTranslator(request, model="bench-model", new_id=new_id, clock=clock)
            frames = [frame(e) for e in m.start()]
            if parse:
                for b in raw:
                    frames += [frame(e) for e in m.feed(orjson.loads(b))]
            else:
                for c in parsed:
                    frames += [frame(e) for e in m.feed(c)]
            frames += [frame(e) for e in m.finish()]
            events += len(frames)
            out_bytes += sum(map(len, frames))
            streams += 1
        t = time.perf_counter()
        if t >= deadline:
            break
    elapsed = t - t0
    n_chunks = streams * len(parsed)
    return {"parse": parse, "deltas": deltas, "seconds": round(elapsed, 3), "streams": streams,
            "chunks_s": round(n_chunks / elapsed), "streams_s": round(streams / elapsed, 1),
            "events_s": round(events / elapsed), "out_mb_s": round(out_bytes / elapsed / 1e6, 1),
            "us_per_chunk": round(elapsed / n_chunks * 1e6, 2)}


def main() -> None:
    p = argparse.ArgumentParser(description="translator micro-benchmark")
    p.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    p.add_argument("--deltas", type=int, default=50)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    measure(0.3, a.deltas, False)  # warm-up
    results = [measure(a.seconds, a.deltas, False), measure(a.seconds, a.deltas, True)]
    if a.json:
        print(json.dumps(results))
        return
    for r in results:
        label = "orjson.loads + translate + frame" if r["parse"] else "translate + frame"
        print(f"{label:>34}: {r['chunks_s']:>9,} chunks/s  {r['streams_s']:>8,} streams/s  "
              f"{r['events_s']:>9,} events/s  {r['us_per_chunk']} us/chunk  ({r['out_mb_s']} MB/s of SSE)")


if __name__ == "__main__":
    main()
