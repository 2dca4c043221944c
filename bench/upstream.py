"""A very fast scripted Chat Completions (and Responses) upstream for benchmarks. Standalone: stdlib
(+ uvloop, orjson if present).

    python bench/upstream.py --port 9100 --deltas 50 --ttft-ms 0 [--delta-ms 0] [--chat-only]

- `POST /v1/chat/completions`: `stream: true` -> `data:` chunks (a role chunk, `--deltas` content deltas,
  a finish chunk, a usage chunk, `data: [DONE]`), chunked transfer encoding, one HTTP chunk per SSE event;
  otherwise one `chat.completion` JSON whose content is the same text.
- `POST /v1/responses` (unless `--chat-only`): `stream: true` -> a well-formed Responses event stream, each
  event an `event:` + `data:` frame with a gapless `sequence_number` (created, in_progress,
  output_item.added, content_part.added, `--deltas` output_text.delta, output_text.done,
  content_part.done, output_item.done, completed with usage), one HTTP chunk per event; otherwise one
  `response` object. The same text as the chat answers; the echoed settings are the defaults (the request
  is not read beyond `model` and `stream`). Each answer gets its own response and item ids.
- `GET /v1/models` lists the model(s); `GET /health` answers 200; `GET /bench/stats` counts the requests
  answered per API (`{"chat": n, "responses": n}`: which API a bridge used); everything else 404, and
  `/v1/responses` too with `--chat-only`, as a chat-only server does (a bridge must translate).

Raw asyncio protocol, HTTP/1.1 keep-alive, one process. Answers are pre-encoded per model name, so
with `--ttft-ms 0 --delta-ms 0` a streamed answer is a single `transport.write` (a Responses answer is
one `bytes.join` first, which puts its ids in).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import sys

from http1 import framing  # bench/ is on sys.path: the scripts run as `python bench/...`

try:
    import orjson

    def dumps(obj: object) -> bytes:
        return orjson.dumps(obj)

    loads = orjson.loads
except ImportError:  # pragma: no cover - stdlib fallback
    def dumps(obj: object) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode()

    loads = json.loads

WORDS = ["The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog", "."]
CREATED = 1_700_000_000

SSE_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")


def _http_chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _json_response(status: int, reason: str, body: bytes, close: bool = False) -> bytes:
    conn = b"Connection: close\r\n" if close else b""
    return (b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n"
            % (status, reason.encode(), len(body), conn)) + body


class Stream:
    """One streamed answer as HTTP chunks: head (the events before the first delta), deltas, tail (the rest
    and the last chunk). `all` is the whole answer with the response head."""

    __slots__ = ("first", "deltas", "tail", "all")

    def __init__(self, first: bytes, deltas: list[bytes], tail: bytes) -> None:
        self.first, self.deltas, self.tail = first, deltas, tail
        self.all = SSE_HEAD + first + b"".join(deltas) + tail


# Stands for the hex part of a Responses answer's ids in the pre-encoded bytes: every answer gets its own
# ids (a bridge may store responses and items by id) at the cost of one join, and as the stand-in has the
# length of an id, the HTTP chunk sizes around it stay right.
ID_HOLE = b"@" * 24


def _fill(template: list[bytes], n: int) -> bytes:
    return (b"%024x" % n).join(template)


class Script:
    """Pre-encoded answers for one model name."""

    def __init__(self, model: str, deltas: int) -> None:
        texts = [WORDS[i % len(WORDS)] for i in range(deltas)]
        base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": CREATED, "model": model}

        def sse(choices: list, **extra: object) -> bytes:
            return _http_chunk(b"data: " + dumps({**base, "choices": choices, **extra}) + b"\n\n")

        usage = {"prompt_tokens": 10, "completion_tokens": deltas, "total_tokens": 10 + deltas}
        self.first = sse([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
        self.deltas = [sse([{"index": 0, "delta": {"content": t}, "finish_reason": None}]) for t in texts]
        self.tail = (sse([{"index": 0, "delta": {}, "finish_reason": "stop"}])
                     + sse([], usage=usage)
                     + _http_chunk(b"data: [DONE]\n\n")
                     + b"0\r\n\r\n")
        self.stream_all = SSE_HEAD + self.first + b"".join(self.deltas) + self.tail
        completion = {
            "id": "chatcmpl-bench", "object": "chat.completion", "created": CREATED, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(texts)},
                         "finish_reason": "stop"}],
            "usage": usage,
        }
        self.completion = _json_response(200, "OK", dumps(completion))
        self.chat = Stream(self.first, self.deltas, self.tail)
        self._responses(model, texts)

    def _responses(self, model: str, texts: list[str]) -> None:
        """The Responses answers, shaped as the bridge's own (tests/cases/*/events.sse), ids left as holes."""
        hole = ID_HOLE.decode()
        rid, mid = f"resp_{hole}", f"msg_{hole}"
        text = "".join(texts)
        n = len(texts)
        usage = {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                 "output_tokens": n, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 10 + n}

        def response(status: str, output: list, usage: dict | None) -> dict:
            return {
                "id": rid, "object": "response", "created_at": CREATED, "status": status, "background": False,
                "completed_at": CREATED if status == "completed" else None, "conversation": None, "error": None,
                "incomplete_details": None, "instructions": None, "max_output_tokens": None,
                "max_tool_calls": None, "metadata": {}, "model": model, "output": output,
                "parallel_tool_calls": True, "previous_response_id": None, "prompt_cache_key": None,
                "reasoning": {"effort": None, "summary": None}, "safety_identifier": None,
                "service_tier": "default", "store": False, "temperature": 1.0,
                "text": {"format": {"type": "text"}, "verbosity": "medium"}, "tool_choice": "auto", "tools": [],
                "top_logprobs": 0, "top_p": 1.0, "presence_penalty": 0.0, "frequency_penalty": 0.0,
                "truncation": "disabled", "usage": usage, "user": None,
            }

        part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
        item = {"id": mid, "type": "message", "status": "completed", "role": "assistant", "content": [part]}
        at = {"item_id": mid, "output_index": 0, "content_index": 0}
        seq = iter(range(1 << 30))

        def event(kind: str, **fields: object) -> bytes:
            data = dumps({"type": kind, **fields, "sequence_number": next(seq)})
            return _http_chunk(b"event: " + kind.encode() + b"\ndata: " + data + b"\n\n")

        first = (event("response.created", response=response("in_progress", [], None))
                 + event("response.in_progress", response=response("in_progress", [], None))
                 + event("response.output_item.added", output_index=0,
                         item={**item, "status": "in_progress", "content": []})
                 + event("response.content_part.added", **at, part={**part, "text": ""}))
        deltas = [event("response.output_text.delta", **at, delta=t, logprobs=[]) for t in texts]
        tail = (event("response.output_text.done", **at, text=text, logprobs=[])
                + event("response.content_part.done", **at, part=part)
                + event("response.output_item.done", output_index=0, item=item)
                + event("response.completed", response=response("completed", [item], usage))
                + b"0\r\n\r\n")
        self.responses_stream = Stream(first, deltas, tail)
        self.responses_all = self.responses_stream.all.split(ID_HOLE)
        self.responses_object = _json_response(200, "OK", dumps(response("completed", [item], usage))).split(ID_HOLE)

    def responses_with_ids(self, n: int) -> Stream:
        """The Responses stream with the ids of answer `n` in every piece (for the delayed path)."""
        s = self.responses_stream
        return Stream(_fill(s.first.split(ID_HOLE), n), [_fill(d.split(ID_HOLE), n) for d in s.deltas],
                      _fill(s.tail.split(ID_HOLE), n))


class Upstream:
    def __init__(self, model: str, deltas: int, ttft: float, delta_delay: float, chat_only: bool = False) -> None:
        self.model = model
        self.deltas = deltas
        self.ttft = ttft
        self.delta_delay = delta_delay
        self.chat_only = chat_only
        self.scripts: dict[str, Script] = {}
        self.models = _json_response(200, "OK", dumps({"object": "list", "data": [
            {"id": model, "object": "model", "created": CREATED, "owned_by": "bench"}]}))
        self.requests = 0
        self.responses = 0

    def script(self, model: str) -> Script:
        s = self.scripts.get(model)
        if s is None:
            if len(self.scripts) > 64:
                self.scripts.clear()
            s = self.scripts[model] = Script(model, self.deltas)
        return s


NOT_FOUND = _json_response(404, "Not Found", dumps({"error": {
    "message": "not found (a chat-only upstream)", "type": "invalid_request_error", "param": None,
    "code": "not_found"}}))
BAD = _json_response(400, "Bad Request", dumps({"error": {
    "message": "bad request", "type": "invalid_request_error", "param": None, "code": None}}), close=True)
HEALTH = _json_response(200, "OK", b'{"status":"ok"}')


class Conn(asyncio.Protocol):
    __slots__ = ("up", "transport", "buf", "busy", "closed", "loop")

    def __init__(self, up: Upstream) -> None:
        self.up = up
        self.buf = bytearray()
        self.busy = False
        self.closed = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.loop = asyncio.get_running_loop()
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.busy:
            self.process()

    def process(self) -> None:
        """Answer every complete request in the buffer, in order (one at a time when answers are delayed)."""
        while not self.busy and not self.closed:
            buf = self.buf
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > 65536:
                    self.transport.write(BAD)
                    self.transport.close()
                return
            head = bytes(buf[:end]).decode("latin-1")
            lines = head.split("\r\n")
            try:
                method, target, _version = lines[0].split(" ", 2)
            except ValueError:
                self.transport.write(BAD)
                self.transport.close()
                return
            f = framing(lines[1:])
            length, chunked, close, expect = f.length or 0, f.chunked, f.close, f.expect_continue
            start = end + 4
            if chunked:
                parsed = _dechunk(buf, start)
                if parsed is None:
                    if expect:
                        self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                    return
                body, consumed = parsed
                del buf[:consumed]
            else:
                if len(buf) - start < length:
                    if expect and len(buf) == start:
                        self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                    return
                body = bytes(buf[start:start + length])
                del buf[:start + length]
            self.handle(method, target.split("?", 1)[0], body, close)

    def handle(self, method: str, path: str, body: bytes, close: bool) -> None:
        up = self.up
        t = self.transport
        chat = path.endswith("/chat/completions")
        if method == "POST" and (chat or (path.endswith("/responses") and not up.chat_only)):
            try:
                req = loads(body)
                model = req.get("model") or up.model
                stream = bool(req.get("stream"))
            except Exception:
                t.write(BAD)
                t.close()
                return
            s = up.script(str(model))
            if chat:
                up.requests += 1
                whole, completion = s.stream_all, s.completion
            else:
                up.responses += 1
                n = up.responses
                whole = _fill(s.responses_all, n) if stream else b""
                completion = b"" if stream else _fill(s.responses_object, n)
            if stream:
                if up.ttft <= 0 and up.delta_delay <= 0:
                    t.write(whole)
                    self.done(close)
                else:
                    t.write(SSE_HEAD)
                    self.busy = True
                    steps = s.chat if chat else s.responses_with_ids(n)
                    self.loop.call_later(up.ttft, self.stream_step, steps, 0, close)
            elif up.ttft <= 0 and up.delta_delay <= 0:
                t.write(completion)
                self.done(close)
            else:
                self.busy = True
                delay = up.ttft + up.delta_delay * max(up.deltas - 1, 0)
                self.loop.call_later(delay, self.delayed_write, completion, close)
        elif method == "GET" and path == "/bench/stats":
            t.write(_json_response(200, "OK", dumps({"chat": up.requests, "responses": up.responses})))
            self.done(close)
        elif method == "GET" and path.endswith("/models"):
            t.write(up.models)
            self.done(close)
        elif method == "GET" and path in ("/health", "/healthz", "/v1/health"):
            t.write(HEALTH)
            self.done(close)
        else:
            t.write(NOT_FOUND)
            self.done(close)

    def stream_step(self, s: Stream, i: int, close: bool) -> None:
        if self.closed:
            return
        t = self.transport
        if i == 0:
            if not s.deltas:
                t.write(s.first + s.tail)
                return self.finish_delayed(close)
            t.write(s.first + s.deltas[0])
        else:
            t.write(s.deltas[i])
        i += 1
        if i >= len(s.deltas):
            t.write(s.tail)
            return self.finish_delayed(close)
        if self.up.delta_delay > 0:
            self.loop.call_later(self.up.delta_delay, self.stream_step, s, i, close)
        else:
            # no inter-delta delay: the rest goes out at once
            t.write(b"".join(s.deltas[i:]) + s.tail)
            self.finish_delayed(close)

    def delayed_write(self, data: bytes, close: bool) -> None:
        if self.closed:
            return
        self.transport.write(data)
        self.finish_delayed(close)

    def finish_delayed(self, close: bool) -> None:
        self.busy = False
        self.done(close)
        if not close and self.buf:
            self.process()

    def done(self, close: bool) -> None:
        if close:
            self.transport.close()
            self.closed = True


def _dechunk(buf: bytearray, pos: int) -> tuple[bytes, int] | None:
    out = bytearray()
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        size = int(bytes(buf[pos:eol]).split(b";", 1)[0], 16)
        pos = eol + 2
        if size == 0:
            # skip trailers up to the blank line
            while True:
                eol = buf.find(b"\r\n", pos)
                if eol < 0:
                    return None
                if eol == pos:
                    return bytes(out), eol + 2
                pos = eol + 2
        if len(buf) < pos + size + 2:
            return None
        out += buf[pos:pos + size]
        pos += size + 2


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9100)
    p.add_argument("--model", default="bench-model", help="model listed by /v1/models (any requested name is echoed)")
    p.add_argument("--deltas", type=int, default=50, help="content deltas per streamed answer")
    p.add_argument("--ttft-ms", type=float, default=0.0, help="delay before the first content delta")
    p.add_argument("--delta-ms", type=float, default=0.0, help="delay between content deltas")
    p.add_argument("--chat-only", action="store_true",
                   help="answer /v1/responses with 404, as a chat-only server does (a bridge must translate)")
    a = p.parse_args(argv)
    try:
        import uvloop  # type: ignore[import-not-found]

        uvloop.install()
        flavour = "uvloop"
    except ImportError:
        flavour = "asyncio"
    up = Upstream(a.model, a.deltas, a.ttft_ms / 1000, a.delta_ms / 1000, chat_only=a.chat_only)

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: Conn(up), a.host, a.port, backlog=1024, reuse_address=True)
        apis = "chat only" if a.chat_only else "chat + responses"
        print(f"bench upstream ({flavour}, {apis}) on http://{a.host}:{a.port}/v1 deltas={a.deltas} "
              f"ttft={a.ttft_ms}ms delta={a.delta_ms}ms", file=sys.stderr, flush=True)
        async with server:
            await server.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
