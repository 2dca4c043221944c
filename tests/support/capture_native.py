"""Record what a real llama.cpp server answers on its own `/v1/responses`, as fixtures for the native repair.

    uv run python -m tests.support.capture_native          # rewrites tests/cases_native/llamacpp_*/upstream.*

For each case it sends `request.json` twice, streamed and not, and stores the raw bytes of the answers:
`upstream.sse` (the event stream as received) and `upstream.json` (the non-stream body). The server is
xllamacpp (llama.cpp's server as a CPU wheel) with the SmolLM2-135M GGUF, both from the dev dependencies,
started with a model alias so that `model` is not a path of this machine. `temperature: 0` keeps the text
repeatable. It also derives `older_data_only`, the shape older servers send (data-only frames ending in
`[DONE]`), from the first case. Read tests/cases_native/README.md before re-recording.
"""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import httpx

from tests.support.llamacpp import llamacpp_server

CASES = Path(__file__).resolve().parent.parent / "cases_native"
MODEL = "smollm2-135m"
WEATHER = {
    "type": "function", "name": "get_weather", "description": "The current weather of a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
REQUESTS: dict[str, dict[str, object]] = {
    "llamacpp_text": {"model": MODEL, "input": "Say hello in five words.", "max_output_tokens": 40,
                      "temperature": 0},
    "llamacpp_cut_by_max_output_tokens": {"model": MODEL, "input": "Write a long story about a robot.",
                                          "max_output_tokens": 8, "temperature": 0},
    "llamacpp_tool_required": {"model": MODEL, "input": "What is the weather in Paris?", "tools": [WEATHER],
                               "tool_choice": "required", "max_output_tokens": 30, "temperature": 0},
    "llamacpp_instructions": {"model": MODEL, "instructions": "You are a pirate. Answer in one short sentence.",
                              "input": "Where is the treasure?", "max_output_tokens": 60, "temperature": 0,
                              "metadata": {"case": "instructions"}},
}


def capture() -> None:
    with llamacpp_server(alias=MODEL) as base:
        for name, request in REQUESTS.items():
            case = CASES / name
            case.mkdir(parents=True, exist_ok=True)
            (case / "request.json").write_text(json.dumps(request, indent=2) + "\n")
            for stream, file in ((True, "upstream.sse"), (False, "upstream.json")):
                with httpx.stream("POST", base + "/responses", json={**request, "stream": stream}, timeout=300) as r:
                    body = r.read()
                if r.status_code != 200:
                    raise SystemExit(f"{name}: {r.status_code} {body[:500]!r}")
                (case / file).write_bytes(body)
            print(f"{name}: {len((case / 'upstream.sse').read_bytes())} bytes streamed")
    _derive_older_data_only()
    print("xllamacpp", importlib.metadata.version("xllamacpp"))


def _derive_older_data_only() -> None:
    """Older llama.cpp servers: no `event:` lines, and a `data: [DONE]` at the end."""
    source = CASES / "llamacpp_text"
    case = CASES / "older_data_only"
    case.mkdir(exist_ok=True)
    lines = (source / "upstream.sse").read_bytes().split(b"\n")
    body = b"\n".join(line for line in lines if not line.startswith(b"event:"))
    (case / "upstream.sse").write_bytes(body.rstrip(b"\n") + b"\n\ndata: [DONE]\n\n")
    (case / "request.json").write_bytes((source / "request.json").read_bytes())


if __name__ == "__main__":
    capture()
