"""`FakeUpstream`: the upstream seam in-process, scripted with the same replies as `ScriptedUpstream`.

No sockets and no HTTP: the service (or a whole app, through an ASGI transport) can be tested against
it in microseconds, the way httpx's `MockTransport` stands in for a network. Replies go through the
same SSE decoding and the same error mapping as `HTTPUpstream`, so a scripted garbage chunk or a 400
body fails exactly as it would over HTTP. Timeouts are the HTTP upstream's business: a `Hang` here
simply never answers.

    up = FakeUpstream()
    up.push(answer("Hello", reasoning_content="Thinking"))
    up.push(sse([chunk(content="a"), pause(0.1), chunk(finish_reason="stop")]))
    app = create_app(settings, upstream=up)
    up.calls[-1]              # ("chat_stream", the chat request the bridge sent)
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

import orjson

from ..errors import UpstreamProtocolError
from ..upstream.base import NamedEvent
from ..upstream.errors import chat_completion, chat_event, json_object, named_event, raw_event, status_error
from ..wire.chat import ChatChunk, ChatCompletion, ChatRequest
from ..wire.models import ModelList
from ..wire.responses import Response, ResponsesRequest
from ..wire.sse import ServerEvent, SSEDecoder, SSEError
from .scripted import SSE, Answer, Garbage, Hang, Json, Pause, Received, Reply, Script, _as_reply, _sse_frame


class FakeUpstream:
    """Implements `openai_bridge.upstream.base.Upstream`; replies are consumed in order, `default` after."""

    def __init__(self, default: Script | None = None, *, models: Sequence[str] = ("scripted-model",),
                 base_url: str = "http://fake-upstream/v1") -> None:
        """`base_url`: the URL that error messages name, as `HTTPUpstream`'s name the one it calls."""
        self.default: Script = default if default is not None else Answer()
        self.base_url = base_url
        self.models_list = list(models)
        self.calls: list[tuple[str, Any]] = []  # (method, request body) in call order
        self._chat: deque[Script] = deque()
        self._responses: deque[Script] = deque()
        self.closed = 0  # streams closed by the bridge
        self.keys: list[str] = []  # the client keys `with_key` was asked to use

    def push(self, *replies: Script) -> FakeUpstream:
        self._chat.extend(replies)
        return self

    def push_responses(self, *replies: Script) -> FakeUpstream:
        self._responses.extend(replies)
        return self

    # ---- the seam

    async def chat(self, request: ChatRequest) -> ChatCompletion:
        reply = self._reply("chat", request, self._chat, default=True)
        if isinstance(reply, Answer):
            reply = _as_reply(reply, stream=False)
        return chat_completion(await self._json(reply, "/chat/completions"))

    async def chat_stream(self, request: ChatRequest) -> FakeStream[ChatChunk]:
        reply = self._reply("chat_stream", request, self._chat, default=True)
        if isinstance(reply, Answer):
            reply = _as_reply(reply, stream=True)
        return await self._stream(reply, chat_event, "/chat/completions")

    async def chat_stream_raw(self, request: ChatRequest) -> FakeStream[ServerEvent]:
        reply = self._reply("chat_stream_raw", request, self._chat, default=True)
        if isinstance(reply, Answer):
            reply = _as_reply(reply, stream=True)
        return await self._stream(reply, raw_event, "/chat/completions")

    async def responses(self, request: ResponsesRequest) -> Response:
        reply = self._reply("responses", request, self._responses, default=False)
        return cast(Response, await self._json(reply, "/responses"))

    async def responses_stream(self, request: ResponsesRequest) -> FakeStream[NamedEvent]:
        reply = self._reply("responses_stream", request, self._responses, default=False)
        return await self._stream(reply, named_event, "/responses")

    async def models(self) -> ModelList:
        self.calls.append(("models", None))
        return {"object": "list", "data": [{"id": m, "object": "model", "created": 1700000000,
                                            "owned_by": "scripted"} for m in self.models_list]}

    def with_key(self, key: str) -> FakeUpstream:
        """The same fake (one script, one record of calls): the key only shows in `keys`."""
        self.keys.append(key)
        return self

    async def aclose(self) -> None:
        pass

    # ---- plumbing

    def _reply(self, method: str, request: Any, queue: deque[Script], *, default: bool) -> Reply:
        self.calls.append((method, request))
        if queue:
            script = queue.popleft()
        elif default:
            script = self.default
        else:
            return Json({"error": {"message": "not found", "type": "invalid_request_error", "code": "not_found"}},
                        status=404)
        if callable(script):  # it gets the request as the scripted server would have received it
            raw = orjson.dumps(request)
            path = "/v1/responses" if method.startswith("responses") else "/v1/chat/completions"
            script = script(Received("POST", path, {"content-type": "application/json"}, raw, orjson.loads(raw)))
        return script

    async def _json(self, reply: Reply, path: str) -> dict[str, object]:
        if isinstance(reply, Hang):
            await asyncio.sleep(reply.seconds)
            raise UpstreamProtocolError("The upstream closed the connection without an answer.")
        url = self.base_url + path
        if isinstance(reply, Garbage):
            return json_object(b"<html><body>502 oops</body></html>", f"POST {url}")
        if not isinstance(reply, Json):
            raise TypeError(f"{type(reply).__name__} is not an answer to a non-stream request")
        if reply.delay:
            await asyncio.sleep(reply.delay)
        raw = reply.body if isinstance(reply.body, bytes) else orjson.dumps(reply.body)
        if reply.status >= 400:
            retry_after = next((v for k, v in reply.headers if k.lower() == "retry-after"), None)
            raise status_error(reply.status, raw, "POST", url, retry_after)
        return json_object(raw, f"POST {url}")

    async def _stream(self, reply: Reply, parse: Any, path: str) -> FakeStream[Any]:
        if isinstance(reply, Garbage):
            reply = SSE(("this is not json", "{broken", "<html>"))
        if isinstance(reply, Hang):
            await asyncio.sleep(reply.seconds)
            raise UpstreamProtocolError("The upstream closed the connection without an answer.")
        if isinstance(reply, Json):  # a refusal before the stream started
            await self._json(reply, path)
            raise UpstreamProtocolError("The upstream answered a stream request with JSON.")
        if not isinstance(reply, SSE):
            raise TypeError(f"{type(reply).__name__} is not an answer to a stream request")
        if reply.status >= 400:
            raise status_error(reply.status, b"".join(_sse_frame(c) for c in reply.chunks if not isinstance(c, Pause)),
                               "POST", self.base_url + path)
        return FakeStream(self, reply, parse)


class FakeStream[T]:
    """A scripted stream: the chunks up to each pause (or each chunk, with a `delay`) form one batch."""

    def __init__(self, owner: FakeUpstream, reply: SSE, parse: Any) -> None:
        self._owner = owner
        self._reply = reply
        self._parse = parse
        self._batches = self._run()
        self.done = False

    def __aiter__(self) -> AsyncIterator[list[T]]:
        return self._batches

    async def _run(self) -> AsyncIterator[list[T]]:
        reply = self._reply
        decoder = SSEDecoder()
        frames: list[bytes | Pause] = [c if isinstance(c, Pause) else _sse_frame(c) for c in reply.chunks]
        if reply.done:
            frames.append(b"data: [DONE]\n\n")
        batch: list[T] = []
        first = True
        for frame in frames:
            wait = frame.seconds if isinstance(frame, Pause) else (reply.first_delay if first else reply.delay)
            if wait > 0 or isinstance(frame, Pause):
                if batch:
                    yield batch
                    batch = []
                await asyncio.sleep(wait)
            if isinstance(frame, Pause):
                continue
            first = False
            try:
                events = decoder.feed(frame)
            except SSEError as exc:
                if batch:
                    yield batch
                raise UpstreamProtocolError(f"The upstream sent {exc}.") from exc
            for event in events:
                try:
                    item = self._parse(event)
                except Exception:
                    if batch:
                        yield batch
                    raise
                if item is None:
                    self.done = True
                    if batch:
                        yield batch
                    return
                batch.append(item)
        for event in decoder.close():
            item = self._parse(event)
            if item is not None:
                batch.append(item)
        if batch:
            yield batch
        if reply.drop:
            raise UpstreamProtocolError("The upstream stream broke off: the connection was dropped.")

    async def aclose(self) -> None:
        self._owner.closed += 1
        await self._batches.aclose()  # type: ignore[attr-defined]
