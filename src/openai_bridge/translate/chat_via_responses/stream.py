"""Up, the reverse direction: Responses stream events -> chat completion chunks. Pure, sans-I/O.

`ChatStreamTranslator.feed(event)` takes one parsed event of the upstream's Responses stream and returns the
`chat.completion.chunk`s to send, all sharing one `id` and `created`. The caller frames each with
`wire.sse.data_frame` and ends the stream with `wire.sse.DONE_FRAME`.

The events are the upstream's and not trusted to have their type. Real servers differ: llama.cpp sends no
`sequence_number`, `output_index` or `content_index` and a bare `response.created`; some send an item's
text only in its `.done` event or only in the final Response. So items are known by `item_id` (by
`output_index`, or as the latest call, where that is missing), nothing depends on sequence numbers, and the
terminal event's Response is read with the non-stream translator's `read_output`: whatever it holds that
the deltas did not bring (a text's end, a call never announced, arguments sent only whole) goes out before
the `finish_reason` chunk. The joined chunks are therefore the non-stream completion of the same Response.

Chunks in order: the first carries `role: assistant`; then `reasoning_content`, `content`, `refusal` and
`tool_calls` deltas as the events bring them (a call: one delta with `index`, `id` = its `call_id`, `type`,
`function.name` and `arguments: ""`, then argument deltas with `index` and `function.arguments` only);
exactly one chunk with `finish_reason`; then, if the client asked, the usage chunk (`choices: []`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from ...errors import UpstreamProtocolError
from ...wire.chat import ChatChunk, ChatChunkChoice, ChatDelta, ChatTokenLogprob, FinishReason
from .response import (
    REASONING_SEPARATOR,
    Clock,
    NewId,
    Output,
    chat_logprobs,
    finish_reason,
    read_call,
    read_output,
    upstream_failure,
    usage_down,
)

_STARTS = frozenset({"response.created", "response.in_progress", "response.queued"})
type _TextField = Literal["reasoning_content", "content", "refusal"]
_TERMINAL = frozenset({"response.completed", "response.incomplete"})


class ChatStreamTranslator:
    """One chat completion stream, built from one Responses event stream.

    `feed(event)` -> the chunks for that event; after the terminal event (`response.completed` or
    `response.incomplete`) every call returns `[]`. `response.failed` and `error` events raise the
    `UpstreamError` to put into the stream (`data: {"error": ...}`, as OpenAI does) before `[DONE]`.
    `finish()`: the upstream's stream ended; `[]` after a terminal event, else `UpstreamProtocolError`.
    """

    def __init__(self, *, model: str, new_id: NewId, clock: Clock, include_usage: bool = False) -> None:
        self.id = new_id("chatcmpl")
        self.created = clock()
        self.model = model
        self.include_usage = include_usage
        self.done = False
        self._started = False
        self._chunks: list[ChatChunk] = []
        # What went out so far, to send the rest at the end (and to know what `finish_reason` to say).
        self._text: list[str] = []
        self._refusal: list[str] = []
        self._reasoning: list[str] = []
        self._reasoning_piece: tuple[str, str, int] | None = None  # (item id, kind, index) being streamed
        self._reasoning_kind: dict[str, str] = {}  # item id -> "text" or "summary": the first one seen is used
        self._calls: list[_Call] = []
        self._calls_by_item: dict[str, _Call] = {}
        self._calls_by_index: dict[int, _Call] = {}

    def feed(self, event: Mapping[str, object]) -> list[ChatChunk]:
        if self.done:
            return []
        kind = event.get("type")
        if kind in _STARTS:
            self._start()
        elif kind == "response.output_text.delta":
            delta = event.get("delta")
            if isinstance(delta, str) and delta:
                self._content(delta, chat_logprobs(event.get("logprobs")))
        elif kind == "response.refusal.delta":
            delta = event.get("delta")
            if isinstance(delta, str) and delta:
                self._refusal.append(delta)
                self._delta({"refusal": delta})
        elif kind in ("response.reasoning_text.delta", "response.reasoning_summary_text.delta"):
            self._reasoning_delta(event, "text" if kind == "response.reasoning_text.delta" else "summary")
        elif kind in ("response.output_item.added", "response.output_item.done"):
            item = event.get("item")
            if isinstance(item, dict) and item.get("type") == "function_call":
                self._call_item(event, item)
        elif kind == "response.function_call_arguments.delta":
            call = self._call_of(event)
            delta = event.get("delta")
            if call is not None and isinstance(delta, str) and delta:
                self._arguments(call, delta)
        elif kind == "response.function_call_arguments.done":
            call = self._call_of(event)
            arguments = event.get("arguments")
            if call is not None and isinstance(arguments, str):
                self._catch_up_arguments(call, arguments)
        elif kind in _TERMINAL:
            self._finish(event.get("response"))
        elif kind == "response.failed":
            self.done = True
            response = event.get("response")
            raise upstream_failure(response.get("error") if isinstance(response, dict) else None)
        elif kind == "error":
            self.done = True
            error = event.get("error")
            raise upstream_failure(error if isinstance(error, dict) else event, "stream")
        # Everything else (parts added and done, texts done, annotations, keepalives, a built-in tool's
        # progress) brings nothing a chat client is shown, or nothing the terminal event will not bring.
        return self._take()

    def finish(self) -> list[ChatChunk]:
        """The upstream's stream ended (its connection closed, or `[DONE]` came)."""
        if self.done:
            return []
        self.done = True
        raise UpstreamProtocolError("The upstream's Responses stream ended without a terminal event.")

    # ---- events ---------------------------------------------------------------------------------

    def _start(self) -> None:
        if not self._started:
            self._started = True
            # OpenAI's first chunk: the role, and an empty content a naive client can append to.
            self._chunks.append(self._chunk({"role": "assistant", "content": ""}))

    def _content(self, text: str, logprobs: list[ChatTokenLogprob]) -> None:
        self._text.append(text)
        self._delta({"content": text}, logprobs)

    def _reasoning_delta(self, event: Mapping[str, object], kind: str) -> None:
        delta = event.get("delta")
        if not isinstance(delta, str) or not delta:
            return
        item_id = event.get("item_id")
        item_key = item_id if isinstance(item_id, str) else f"#{event.get('output_index')}"
        # An upstream may stream an item's reasoning twice, as text and as summary (the bridge's own forward
        # direction mirrors it when asked for a summary): the kind seen first is the one shown.
        if self._reasoning_kind.setdefault(item_key, kind) != kind:
            return
        index = event.get("content_index" if kind == "text" else "summary_index")
        piece = (item_key, kind, index if isinstance(index, int) else 0)
        if piece != self._reasoning_piece:
            self._reasoning_piece = piece
            if self._reasoning:
                delta = REASONING_SEPARATOR + delta
        self._reasoning.append(delta)
        self._delta({"reasoning_content": delta})

    def _call_item(self, event: Mapping[str, object], item: Mapping[str, object]) -> None:
        """A function call added (or done): announced once, its arguments caught up when it is done."""
        item_id = item.get("id")
        call = self._calls_by_item.get(item_id) if isinstance(item_id, str) else None
        if call is None:
            found = read_call(item)
            call = next((c for c in self._calls if c.call_id == found.call_id), None)
            if call is None:
                call = self._open_call(found.call_id, found.name)
            if isinstance(item_id, str):
                self._calls_by_item[item_id] = call
        index = event.get("output_index")
        if isinstance(index, int):
            self._calls_by_index[index] = call
        arguments = item.get("arguments")
        if event.get("type") == "response.output_item.done" and isinstance(arguments, str):
            self._catch_up_arguments(call, arguments)

    def _open_call(self, call_id: str, name: str) -> _Call:
        call = _Call(len(self._calls), call_id)
        self._calls.append(call)
        self._delta({"tool_calls": [{"index": call.index, "id": call_id, "type": "function",
                                     "function": {"name": name, "arguments": ""}}]})
        return call

    def _call_of(self, event: Mapping[str, object]) -> _Call | None:
        item_id, index = event.get("item_id"), event.get("output_index")
        if isinstance(item_id, str) and item_id in self._calls_by_item:
            return self._calls_by_item[item_id]
        if isinstance(index, int) and index in self._calls_by_index:
            return self._calls_by_index[index]
        if item_id is None and index is None and self._calls:
            return self._calls[-1]  # no way to tell: the latest call (servers stream one call at a time)
        return None  # an unknown call: its arguments come with its item, or in the final Response

    def _arguments(self, call: _Call, text: str) -> None:
        call.arguments.append(text)
        self._delta({"tool_calls": [{"index": call.index, "function": {"arguments": text}}]})

    def _catch_up_arguments(self, call: _Call, arguments: str) -> None:
        sent = "".join(call.arguments)
        if len(arguments) > len(sent) and arguments.startswith(sent):
            self._arguments(call, arguments[len(sent):])

    def _finish(self, response: object) -> None:
        self._start()
        final = response if isinstance(response, dict) else {}
        output = final.get("output")
        if isinstance(output, list) and output:
            self._catch_up(read_output(output))
        reason: FinishReason = finish_reason(final, bool(self._calls))
        self._chunks.append(self._chunk({}, finish=reason))
        usage = usage_down(final.get("usage"))
        if self.include_usage and usage is not None:
            chunk = self._chunk(None)
            chunk["usage"] = usage
            self._chunks.append(chunk)
        self.done = True

    def _catch_up(self, out: Output) -> None:
        """Send what the final Response holds and the deltas did not bring."""
        self._catch_up_text(out.reasoning, self._reasoning, "reasoning_content")
        self._catch_up_text(out.text, self._text, "content")
        self._catch_up_text(out.refusal, self._refusal, "refusal")
        for found in out.calls:
            call = next((c for c in self._calls if c.call_id == found.call_id), None)
            if call is None:
                call = self._open_call(found.call_id, found.name)
            self._catch_up_arguments(call, found.arguments)

    def _catch_up_text(self, done: str, sent: list[str], key: _TextField) -> None:
        so_far = "".join(sent)
        if len(done) > len(so_far) and done.startswith(so_far):
            rest = done[len(so_far):]
            sent.append(rest)
            delta: ChatDelta = {}
            delta[key] = rest
            self._delta(delta)

    # ---- plumbing -------------------------------------------------------------------------------

    def _delta(self, delta: ChatDelta, logprobs: list[ChatTokenLogprob] | None = None) -> None:
        self._start()
        self._chunks.append(self._chunk(delta, logprobs=logprobs))

    def _chunk(self, delta: ChatDelta | None, *, finish: FinishReason | None = None,
               logprobs: list[ChatTokenLogprob] | None = None) -> ChatChunk:
        """A chunk; `delta=None`: the usage chunk, without choices."""
        choices: list[ChatChunkChoice] = []
        if delta is not None:
            choices.append({"index": 0, "delta": delta,
                            "logprobs": {"content": logprobs, "refusal": None} if logprobs else None,
                            "finish_reason": finish})
        chunk: ChatChunk = {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                            "model": self.model, "choices": choices}
        if self.include_usage:
            chunk["usage"] = None  # as OpenAI: every chunk says usage is still to come, the last one has it
        return chunk

    def _take(self) -> list[ChatChunk]:
        chunks = self._chunks
        self._chunks = []
        return chunks


class _Call:
    __slots__ = ("index", "call_id", "arguments")

    def __init__(self, index: int, call_id: str) -> None:
        self.index = index
        self.call_id = call_id
        self.arguments: list[str] = []
