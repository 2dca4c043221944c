"""A scripted model server: a real HTTP/1.1 server on 127.0.0.1 whose answers a test dictates.

    with ScriptedUpstream() as up:
        up.push(sse([chunk(content="Hel"), chunk(content="lo"), chunk(finish_reason="stop")]))
        ...                       # point the bridge at up.base_url
        up.requests[-1].body      # what the bridge sent
        up.disconnected.wait(2)   # the bridge hung up mid-answer

Replies are consumed in order by `POST .../chat/completions`; when the queue is empty, `default`
answers. `POST .../responses` takes its replies from `push_responses(...)` and answers 404, as a
chat-only server does, when none is queued. `GET .../models` lists `models`; anything else is 404.
Standard library only (raw asyncio streams): keep-alive, Content-Length and chunked request bodies,
`Expect: 100-continue`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json as _json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 408: "Request Timeout",
            413: "Payload Too Large", 422: "Unprocessable Entity", 429: "Too Many Requests",
            500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
            504: "Gateway Timeout"}


def _dumps(obj: Any) -> bytes:
    return _json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


# --------------------------------------------------------------------------- replies


@dataclass(frozen=True, slots=True)
class Json:
    """One JSON body (a chat completion, or an error body with a 4xx/5xx status)."""

    body: Any
    status: int = 200
    headers: Sequence[tuple[str, str]] = ()
    delay: float = 0.0  # before the answer (the peer leaving meanwhile is noticed)


@dataclass(frozen=True, slots=True)
class Pause:
    """In an `SSE` chunk list: flush what was written, then wait this long before the next chunk."""

    seconds: float


@dataclass(frozen=True, slots=True)
class SSE:
    """A chunk stream: each chunk as `data: <json>\\n\\n` (a `bytes` chunk goes out verbatim, a `str`
    as `data: <str>\\n\\n`, a `Pause` waits), then `data: [DONE]` when `done`. With `drop`, the socket
    is closed after the chunks, without [DONE] and without the end of the chunked body."""

    chunks: Sequence[Chunk]
    delay: float = 0.0
    first_delay: float = 0.0
    done: bool = True
    drop: bool = False
    status: int = 200


@dataclass(frozen=True, slots=True)
class Garbage:
    """200, but unreadable: non-JSON `data:` lines for a stream request, a non-JSON body otherwise."""


@dataclass(frozen=True, slots=True)
class Hang:
    """Read the request and answer nothing for `seconds`, then close the connection."""

    seconds: float = 3600.0


@dataclass(frozen=True, slots=True)
class Answer:
    """The same answer as a completion or as a chunk stream, whichever the request asked for."""

    content: str | None = "ok"
    reasoning_content: str | None = None
    tool_calls: Sequence[JSON] = ()
    finish_reason: str | None = None
    model: str = "scripted-model"
    usage: JSON | None = None
    pieces: int = 3  # the stream splits each text into this many chunks
    delay: float = 0.0


Chunk = JSON | str | bytes | Pause
Reply = Json | SSE | Garbage | Hang | Answer
Script = Reply | Callable[["Received"], Reply]


def json(body: Any, status: int = 200, headers: Sequence[tuple[str, str]] = (), delay: float = 0.0) -> Json:
    return Json(body, status, tuple(headers), delay)


def sse(chunks: Iterable[Chunk], delay: float = 0.0, first_delay: float = 0.0,
        done: bool = True) -> SSE:
    return SSE(tuple(chunks), delay=delay, first_delay=first_delay, done=done)


def drop_after(chunks: Iterable[Chunk], delay: float = 0.0) -> SSE:
    return SSE(tuple(chunks), delay=delay, done=False, drop=True)


def responses_sse(events: Iterable[JSON | Pause], *, names: bool = True, done: bool = False) -> SSE:
    """A native Responses stream: each event framed `event: <type>` + `data: <json>` (data only when not
    `names`, as older servers send it), then `data: [DONE]` when `done`."""
    frames: list[Chunk] = []
    for e in events:
        if isinstance(e, Pause):
            frames.append(e)
        else:
            head = b"event: " + str(e.get("type")).encode() + b"\n" if names else b""
            frames.append(head + b"data: " + _dumps(e) + b"\n\n")
    return SSE(tuple(frames), done=done)


def garbage() -> Garbage:
    return Garbage()


def pause(seconds: float) -> Pause:
    return Pause(seconds)


def hang(seconds: float = 3600.0) -> Hang:
    return Hang(seconds)


def answer(content: str | None = "ok", **kw: Any) -> Answer:
    return Answer(content, **kw)


def error_body(message: str, type: str = "invalid_request_error", param: str | None = None,
               code: str | None = None) -> JSON:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


# --------------------------------------------------------------------------- chat shapes

USAGE: JSON = {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}


def completion(content: str | None = "ok", *, reasoning_content: str | None = None,
               tool_calls: Sequence[JSON] = (), finish_reason: str | None = None,
               model: str = "scripted-model", usage: JSON | None = None, **message: Any) -> JSON:
    """A non-stream chat completion. `tool_calls` items: `{"id", "name", "arguments"}` or full chat shape."""
    msg: JSON = {"role": "assistant", "content": content, **message}
    if reasoning_content is not None:
        msg["reasoning_content"] = reasoning_content
    if tool_calls:
        msg["tool_calls"] = [_full_call(c) for c in tool_calls]
    return {
        "id": "chatcmpl-scripted", "object": "chat.completion", "created": 1700000000, "model": model,
        "choices": [{"index": 0, "message": msg, "logprobs": None,
                     "finish_reason": finish_reason or ("tool_calls" if tool_calls else "stop")}],
        "usage": usage or USAGE,
    }


def chunk(content: str | None = None, *, finish_reason: str | None = None, model: str = "scripted-model",
          usage: JSON | None = None, choices: bool = True, **delta: Any) -> JSON:
    """One chat chunk; `delta` extras (`reasoning_content=`, `reasoning=`, `tool_calls=`, `role=`) go in as is."""
    if content is not None:
        delta["content"] = content
    out: JSON = {"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": 1700000000,
                 "model": model, "choices": []}
    if choices:
        out["choices"] = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]
    if usage is not None:
        out["usage"] = usage
    return out


def text_chunks(*parts: str, finish_reason: str = "stop", usage: JSON | None = USAGE,
                model: str = "scripted-model") -> list[JSON]:
    """A role chunk, one chunk per text part, a finish chunk, and a usage-only chunk."""
    out = [chunk(role="assistant", content="", model=model)]
    out += [chunk(p, model=model) for p in parts]
    out.append(chunk(finish_reason=finish_reason, model=model))
    if usage is not None:
        out.append(chunk(usage=usage, choices=False, model=model))
    return out


def tool_call_chunks(calls: Sequence[JSON], *, pieces: int = 2, model: str = "scripted-model") -> list[JSON]:
    """Chunks announcing each call (`{"id", "name", "arguments"}`) and streaming its arguments in pieces."""
    out: list[JSON] = []
    for i, c in enumerate(calls):
        full = _full_call(c)
        out.append(chunk(model=model, tool_calls=[{"index": i, "id": full["id"], "type": "function",
                                                   "function": {"name": full["function"]["name"],
                                                                "arguments": ""}}]))
        for part in _split(full["function"]["arguments"], pieces):
            out.append(chunk(model=model, tool_calls=[{"index": i, "function": {"arguments": part}}]))
    return out


def _full_call(c: JSON) -> JSON:
    if "function" in c:
        return c
    return {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}


def _split(text: str, pieces: int) -> list[str]:
    if not text:
        return []
    n = max(1, min(pieces, len(text)))
    step = -(-len(text) // n)
    return [text[i:i + step] for i in range(0, len(text), step)]


def _answer_chunks(a: Answer) -> list[JSON]:
    out = [chunk(role="assistant", model=a.model)]
    if a.reasoning_content:
        out += [chunk(model=a.model, reasoning_content=p) for p in _split(a.reasoning_content, a.pieces)]
    if a.content:
        out += [chunk(p, model=a.model) for p in _split(a.content, a.pieces)]
    if a.tool_calls:
        out += tool_call_chunks(a.tool_calls, pieces=a.pieces, model=a.model)
    out.append(chunk(model=a.model, finish_reason=a.finish_reason or ("tool_calls" if a.tool_calls else "stop")))
    out.append(chunk(model=a.model, usage=a.usage or USAGE, choices=False))
    return out


def _as_reply(a: Answer, stream: bool) -> SSE | Json:
    """`a` as the request asked for it: a chunk stream (`delay` between chunks) or a completion."""
    if stream:
        return SSE(tuple(_answer_chunks(a)), delay=a.delay)
    return Json(completion(a.content, reasoning_content=a.reasoning_content, tool_calls=a.tool_calls,
                           finish_reason=a.finish_reason, model=a.model, usage=a.usage))


# --------------------------------------------------------------------------- the server


@dataclass(slots=True)
class Received:
    """One request as the scripted upstream read it."""

    method: str
    path: str
    headers: dict[str, str]  # names lower-cased; a repeated header keeps its last value
    raw_body: bytes
    body: Any = None  # the parsed JSON body, or None when absent or not JSON
    disconnected: threading.Event = field(default_factory=threading.Event)
    """Set when the peer closed the connection (or a write failed) before the answer was complete."""

    @property
    def stream(self) -> bool:
        return isinstance(self.body, dict) and bool(self.body.get("stream"))


class _Closed(Exception):
    pass


class ScriptedUpstream:
    """A chat-completions server on a free 127.0.0.1 port, in a background thread, until `close()`."""

    def __init__(self, default: Script | None = None, *, models: Sequence[str] = ("scripted-model",),
                 record: bool = True) -> None:
        self.default: Script = default if default is not None else Answer()
        self.models = list(models)
        self.record = record
        self.requests: list[Received] = []
        self.disconnected = threading.Event()
        """Set whenever a peer hangs up on an unfinished answer (see also `Received.disconnected`)."""
        # Answers written in full. Counted just before their last byte goes out: a client that has read an
        # answer to its end always finds it counted.
        self.completed = 0
        self.connections = 0  # connections accepted
        self._queue: deque[Script] = deque()
        self._responses: deque[Script] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    # -- scripting

    def push(self, *replies: Script) -> ScriptedUpstream:
        """Queue replies for the next chat requests, in order. A callable gets the `Received` request."""
        self._queue.extend(replies)
        return self

    def push_responses(self, *replies: Script) -> ScriptedUpstream:
        """Queue replies for the next `POST .../responses` requests (without any, those answer 404)."""
        self._responses.extend(replies)
        return self

    def reset(self) -> None:
        """Forget queued replies, received requests and disconnects (between tests sharing a server)."""
        self._queue.clear()
        self._responses.clear()
        self.requests.clear()
        self.disconnected.clear()
        self.completed = 0
        self.connections = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def chat_requests(self) -> list[Received]:
        return [r for r in self.requests if r.path.rstrip("/").endswith("/chat/completions")]

    @property
    def last(self) -> Received:
        return self.chat_requests[-1]

    # -- lifecycle

    def __enter__(self) -> ScriptedUpstream:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0,
                                                                            backlog=1024))
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self._shutdown())
                loop.close()

        self._thread = threading.Thread(target=run, name="scripted-upstream", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]

    def close(self) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._thread = None

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- HTTP

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        conn = _Conn(reader, writer)
        try:
            while True:
                req = await conn.read_request()
                if req is None:
                    return
                if self.record:
                    self.requests.append(req)
                keep = await self._dispatch(conn, req)
                if not keep:
                    return
        except (_Closed, ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            self._tasks.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    async def _dispatch(self, conn: _Conn, req: Received) -> bool:
        path = req.path.split("?", 1)[0].rstrip("/")
        keep = req.headers.get("connection", "").lower() != "close"
        if req.method == "POST" and path.endswith("/chat/completions"):
            script = self._queue.popleft() if self._queue else self.default
            reply = script(req) if callable(script) else script
            return await self._reply(conn, req, reply) and keep
        if req.method == "POST" and path.endswith("/responses") and self._responses:
            script = self._responses.popleft()
            reply = script(req) if callable(script) else script
            return await self._reply(conn, req, reply) and keep
        if req.method == "GET" and path.endswith("/models"):
            body = {"object": "list", "data": [{"id": m, "object": "model", "created": 1700000000,
                                                "owned_by": "scripted"} for m in self.models]}
            await conn.send_json(200, body)
            return keep
        await conn.send_json(404, error_body(f"{req.method} {path} not found", code="not_found"))
        return keep

    async def _reply(self, conn: _Conn, req: Received, reply: Reply) -> bool:
        """Write `reply`; False when the connection must not be reused."""
        if isinstance(reply, Answer):
            reply = _as_reply(reply, req.stream)
        if isinstance(reply, Garbage):
            if req.stream:
                reply = SSE(("this is not json", "{broken", "<html>"), done=True)
            else:
                self.completed += 1
                await conn.send_raw(200, "application/json", b"<html><body>502 oops</body></html>")
                return True
        if isinstance(reply, Json) and reply.delay <= 0:
            self.completed += 1
            await conn.send_json(reply.status, reply.body, reply.headers)
            return True
        watch = conn.watch_eof()
        try:
            if isinstance(reply, Json):
                await asyncio.wait((watch,), timeout=reply.delay)
                if watch.done():
                    self._hung_up(req)
                    return False
                self.completed += 1
                await conn.send_json(reply.status, reply.body, reply.headers)
                return True
            if isinstance(reply, Hang):
                await asyncio.wait((watch,), timeout=reply.seconds)
                if watch.done():
                    self._hung_up(req)
                return False
            assert isinstance(reply, SSE)
            ok = await self._stream(conn, reply, watch)
            if not ok:
                self._hung_up(req)
                return False
            return not reply.drop
        finally:
            await conn.unwatch(watch)

    async def _stream(self, conn: _Conn, reply: SSE, watch: asyncio.Future[None]) -> bool:
        """False when the peer went away before the end."""
        conn.start_chunked(reply.status, "text/event-stream")
        frames: list[bytes | Pause] = [c if isinstance(c, Pause) else _sse_frame(c) for c in reply.chunks]
        if reply.done:
            frames.append(b"data: [DONE]\n\n")
        sent = 0
        for frame in frames:
            wait = reply.first_delay if sent == 0 else reply.delay
            if isinstance(frame, Pause):
                wait = frame.seconds
            if wait > 0:
                if not await conn.flush():
                    return False
                await asyncio.wait((watch,), timeout=wait)
            if watch.done():
                return False
            if isinstance(frame, Pause):
                continue
            conn.write_chunk(frame)
            sent += 1
            if reply.delay > 0 and not await conn.flush():
                return False
        if reply.drop:
            await conn.flush()
            conn.abort()
            return True
        self.completed += 1
        conn.end_chunked()
        return await conn.flush()

    def _hung_up(self, req: Received) -> None:
        req.disconnected.set()
        self.disconnected.set()

    def wait_requests(self, n: int, timeout: float = 5.0) -> list[Received]:
        """Wait until at least `n` requests were received (for requests sent from other threads)."""
        deadline = time.monotonic() + timeout
        while len(self.requests) < n and time.monotonic() < deadline:
            time.sleep(0.005)
        return self.requests


def _sse_frame(c: JSON | str | bytes) -> bytes:
    if isinstance(c, bytes):
        return c
    if isinstance(c, str):
        return b"data: " + c.encode() + b"\n\n"
    return b"data: " + _dumps(c) + b"\n\n"


class _Conn:
    """One keep-alive connection: a read buffer shared by the request parser and the EOF watcher."""

    __slots__ = ("reader", "writer", "buf", "eof")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.buf = bytearray()
        self.eof = False

    async def _fill(self) -> None:
        if self.eof:
            raise _Closed
        data = await self.reader.read(65536)
        if not data:
            self.eof = True
            raise _Closed
        self.buf += data

    async def _read_until(self, sep: bytes, limit: int = 1 << 20) -> bytes:
        while True:
            i = self.buf.find(sep)
            if i >= 0:
                out = bytes(self.buf[:i])
                del self.buf[:i + len(sep)]
                return out
            if len(self.buf) > limit:
                raise _Closed
            await self._fill()

    async def _read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            await self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    async def read_request(self) -> Received | None:
        try:
            head = await self._read_until(b"\r\n\r\n")
        except _Closed:
            return None
        lines = head.decode("latin-1").split("\r\n")
        while lines and not lines[0]:  # stray CRLF between requests
            lines.pop(0)
        if not lines:
            return None
        method, path, _version = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("expect", "").lower() == "100-continue":
            self.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if "chunked" in headers.get("transfer-encoding", "").lower():
            parts = []
            while True:
                size_line = await self._read_until(b"\r\n")
                size = int(size_line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while await self._read_until(b"\r\n"):  # trailers up to the empty line
                        pass
                    break
                parts.append(await self._read_exact(size))
                await self._read_exact(2)
            raw = b"".join(parts)
        else:
            raw = await self._read_exact(int(headers.get("content-length", "0") or 0))
        body = None
        if raw:
            try:
                body = _json.loads(raw)
            except ValueError:
                body = None
        return Received(method, path, headers, raw, body)

    # -- writing

    def _head(self, status: int, headers: Iterable[tuple[str, str]]) -> bytes:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
        lines += [f"{k}: {v}" for k, v in headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def send_raw(self, status: int, content_type: str, body: bytes,
                       extra: Sequence[tuple[str, str]] = ()) -> None:
        head = self._head(status, [("content-type", content_type), ("content-length", str(len(body))),
                                   *extra])
        self.writer.write(head + body)
        await self.writer.drain()

    async def send_json(self, status: int, body: Any, extra: Sequence[tuple[str, str]] = ()) -> None:
        if isinstance(body, bytes):  # a body that is not JSON, verbatim
            await self.send_raw(status, "text/plain", body, extra)
        else:
            await self.send_raw(status, "application/json", _dumps(body), extra)

    def start_chunked(self, status: int, content_type: str) -> None:
        self.writer.write(self._head(status, [("content-type", content_type), ("cache-control", "no-cache"),
                                              ("transfer-encoding", "chunked")]))

    def write_chunk(self, data: bytes) -> None:
        if not data:  # an empty chunk would end the body
            return
        self.writer.write(b"%x\r\n%b\r\n" % (len(data), data))

    def end_chunked(self) -> None:
        self.writer.write(b"0\r\n\r\n")

    async def flush(self) -> bool:
        if self.writer.is_closing():
            return False
        try:
            await self.writer.drain()
        except (ConnectionError, RuntimeError):
            return False
        return True

    def abort(self) -> None:
        # A FIN, not a RST: the chunks already written must reach the peer, only the end is missing.
        self.writer.close()

    def watch_eof(self) -> asyncio.Future[None]:
        """A task done when the peer closes its side; bytes it sends meanwhile stay in the buffer."""

        async def watch() -> None:
            try:
                while True:
                    await self._fill()
            except (_Closed, ConnectionError):
                return

        return asyncio.ensure_future(watch())

    async def unwatch(self, watch: asyncio.Future[None]) -> None:
        if not watch.done():
            watch.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watch
