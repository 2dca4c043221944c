"""Up: the chat chunk -> Responses event state machine. Pure, sans-I/O.

Feed it the parsed chat chunks of one upstream answer; it returns the Responses events to send, each
stamped with a gapless `sequence_number` by the one `_emit`. A non-stream chat answer goes through
the same machine as a single chunk (see `response.py`), so the final object of a stream and the
non-stream response for the same answer are equal by construction.

Item order follows first appearance: reasoning, then message text, then tool calls, as upstreams send
them. Reasoning and message are exclusive (opening one closes the other); tool calls stay open until
the answer ends, because some upstreams interleave their argument deltas.

An event handed out is never changed afterwards (a sink may serialise it later, a stored stream replays
it): what keeps changing (an item while it is open, the Response while the stream runs) goes out as a
copy; what goes out by reference (a closed item or part, the final Response) is not touched again.

The chunks come from the upstream and are not trusted to have the `ChatChunk` shape: every value read
is checked with isinstance, and what is not as expected is skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

import orjson

from ...wire.chat import ChatChunk, ChatChunkChoice, ChatToolCallDelta
from ...wire.responses import (
    ItemStatus,
    Logprob,
    MessageContent,
    Response,
    ResponseCustomToolCall,
    ResponseFunctionToolCall,
    ResponseOutputItem,
    ResponseOutputMessage,
    ResponseReasoningItem,
    ResponseStreamEvent,
    ResponseTerminalEvent,
)
from .envelope import envelope, obj, usage_up
from .options import Options
from .request import tool_search_loads
from .think import CLOSE, ThinkSplitter

NewId = Callable[[str], str]
Clock = Callable[[], int]
type PartKind = Literal["output_text", "refusal"]

_INCOMPLETE: dict[str, Literal["max_output_tokens", "content_filter"]] = {
    "length": "max_output_tokens", "content_filter": "content_filter",
}


class StreamTranslator:
    """One Responses stream, built from one chat answer.

    `start()` -> `response.created`, `response.in_progress`; `feed(chunk)` -> the events for that
    chunk; `finish()` -> the closing events and exactly one terminal event; `fail(code, message)` ->
    `response.failed`. After the terminal event every call returns `[]`.

    `request` is the client's create request (untrusted JSON, read for the envelope's echo and for the
    tools and `include` it names). `store` is the effective `store` the caller decided, echoed on the
    Response: whether and how a response is kept is not the translator's business.
    """

    def __init__(
        self,
        request: Mapping[str, object],
        *,
        model: str,
        new_id: NewId,
        clock: Clock,
        options: Options | None = None,
        seal: Callable[[str], str] | None = None,
        store: bool = False,
    ) -> None:
        self._opts = options or Options()
        # Reasoning goes out sealed in `encrypted_content` when the client asks for it (stateless
        # clients send it back next turn); `seal` holds the key and the randomness, outside this module.
        include = request.get("include")
        wants_sealed = isinstance(include, list) and "reasoning.encrypted_content" in include
        self._seal = seal if wants_sealed else None
        # Clients that ask for a reasoning summary (Codex, the AI SDK) read only summary events: a chat
        # upstream has no summary, so the reasoning text itself is mirrored there.
        self._summary = obj(request.get("reasoning")).get("summary") in ("auto", "concise", "detailed")
        self._new_id = new_id
        self._clock = clock
        self._seq = 0
        self._events: list[ResponseStreamEvent] = []
        self.response: Response = envelope(
            request, response_id=new_id("resp"), model=model, created_at=clock(), store=store
        )
        self._output: list[ResponseOutputItem] = self.response["output"]
        self._think = ThinkSplitter(self._opts.think_tags)
        own_tools, loaded_tools = _tool_lists(request)
        self._custom_names = _custom_tool_names(own_tools, loaded_tools)
        self._namespaces = _namespace_of_tools(own_tools, loaded_tools)
        self._reasoning: _Reasoning | None = None
        self._message: _Message | None = None
        self._calls: dict[int, _Call] = {}
        self._open_calls: list[_Call] = []
        self._finish_reason: str | None = None
        self._answered = False
        self._text_closed_think = False
        self._usage: object = None
        self._terminal: ResponseTerminalEvent | None = None  # settled, not yet sent
        self.done = False

    # ---- public API ---------------------------------------------------------------------------

    @property
    def finish_reason(self) -> str | None:
        """The upstream's `finish_reason`, once a chunk carried one."""
        return self._finish_reason

    @property
    def closing_think_only(self) -> bool:
        """The content closed a think block it never opened (`reasoning...</think>answer`, the `<think>` being
        in the chat template's prompt): split at once when the first content showed it, else left in the
        text. Either way, that model's next answers can be read with `think_tags="implicit"`."""
        return self._think.closing_tag_only or self._text_closed_think

    @property
    def answered(self) -> bool:
        """True once a chunk carried anything of an answer: text, reasoning, a refusal, a tool call or a
        `finish_reason`. An upstream answer without any is a fault of the upstream's."""
        return self._answered

    def start(self) -> list[ResponseStreamEvent]:
        self._emit({"type": "response.created", "response": _snapshot(self.response)})
        self._emit({"type": "response.in_progress", "response": _snapshot(self.response)})
        return self._take()

    def feed(self, chunk: ChatChunk) -> list[ResponseStreamEvent]:
        if self.done:
            return []
        usage = chunk.get("usage")
        if usage:
            self._usage = usage
        choices = chunk.get("choices")
        if choices:
            for choice in choices:
                if isinstance(choice, dict) and choice.get("index", 0) == 0:
                    self._choice(choice)
        return self._take()

    def finish(self) -> list[ResponseStreamEvent]:
        """The upstream answer ended normally (`[DONE]`, or the body of a non-stream answer)."""
        return self.settle() + self.terminal()

    def settle(self) -> list[ResponseStreamEvent]:
        """`finish` without its terminal event: every item is done and `response` is final, but the response
        has not ended yet; `terminal()` ends it, or `fail()` still can (when keeping the response failed)."""
        if self.done or self._terminal is not None:
            return []
        self._open_named_calls()  # calls whose arguments never began (a tool without parameters)
        reasoning, text = self._think.flush()
        self._reasoning_delta(reasoning)
        self._text_delta(text, "output_text", None)
        reason = _INCOMPLETE.get(self._finish_reason or "")
        item_status: ItemStatus = "incomplete" if reason else "completed"
        self._close_exclusive(item_status)
        for call in list(self._open_calls):
            self._close_call(call, item_status)
        r = self.response
        r["usage"] = usage_up(self._usage)
        terminal: ResponseTerminalEvent
        if reason:
            r["status"] = "incomplete"
            r["incomplete_details"] = {"reason": reason}
            terminal = {"type": "response.incomplete", "response": r}
        else:
            r["status"] = "completed"
            r["completed_at"] = self._clock()
            terminal = {"type": "response.completed", "response": r}
        self._terminal = terminal
        return self._take()

    def terminal(self) -> list[ResponseStreamEvent]:
        """The terminal event of a settled response (`response.completed` or `response.incomplete`)."""
        if self.done or self._terminal is None:
            return []
        self.done = True
        self._emit(self._terminal)
        return self._take()

    def fail(self, code: str, message: str, *, cancelled: bool = False) -> list[ResponseStreamEvent]:
        """The upstream failed: end with `response.failed`, keeping what arrived so far. (`cancelled`: the
        response was cancelled, which is its status; the Responses stream has no event of its own for that.)

        Open items are not announced as done (a client could act on a half-streamed tool call);
        they appear in the final object with status `incomplete`.
        """
        if self.done:
            return []
        # The final object keeps the text already streamed as deltas (open items hold it in parts).
        if self._reasoning is not None:
            self._set_reasoning_text(self._reasoning.item, "".join(self._reasoning.parts))
        m = self._message
        if m is not None and m.kind is not None:
            part = m.item["content"][m.content_index]
            if part["type"] == "output_text":
                part["text"], part["logprobs"] = "".join(m.parts), m.logprobs
            else:
                part["refusal"] = "".join(m.parts)
        for call in self._open_calls:
            if call.item is not None and call.item["type"] == "function_call":
                call.item["arguments"] = "".join(call.args)
        for item in self._output:
            if item.get("status") == "in_progress":
                item["status"] = "incomplete"
        self._reasoning = None
        self._message = None
        self._open_calls.clear()
        r = self.response
        r["status"] = "cancelled" if cancelled else "failed"
        r["error"] = {"code": code, "message": message}
        r["completed_at"] = r["incomplete_details"] = None  # when it had settled
        r["usage"] = usage_up(self._usage) if self._usage else None
        self.done = True
        self._emit({"type": "response.failed", "response": r})
        return self._take()

    # ---- chunk handling -----------------------------------------------------------------------

    def _choice(self, choice: ChatChunkChoice) -> None:
        delta = choice.get("delta")
        if isinstance(delta, dict):
            reasoning = delta.get("reasoning_content")
            if not isinstance(reasoning, str):
                reasoning = delta.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                self._answered = True
                self._reasoning_delta(reasoning)
            content = delta.get("content")
            if isinstance(content, str) and content:
                self._answered = True
                logprobs = _logprobs(choice.get("logprobs"))
                think, text = self._think.feed(content)
                self._reasoning_delta(think)
                self._text_delta(text, "output_text", logprobs)
            refusal = delta.get("refusal")
            if isinstance(refusal, str) and refusal:
                self._answered = True
                self._text_delta(refusal, "refusal", None)
            tool_calls = delta.get("tool_calls")
            if isinstance(tool_calls, list):
                for call in tool_calls:
                    if isinstance(call, dict):
                        self._answered = True
                        self._tool_call_delta(call)
        finish = choice.get("finish_reason")
        if isinstance(finish, str):
            self._answered = True
            self._finish_reason = finish

    def _reasoning_delta(self, text: str) -> None:
        if not text:
            return
        r = self._reasoning
        if r is None:
            self._close_exclusive("completed")
            item: ResponseReasoningItem = {"id": self._new_id("rs"), "type": "reasoning", "summary": [], "content": [],
                                           "status": "in_progress"}
            r = self._reasoning = _Reasoning(item, self._add(item))
            if self._summary:
                self._emit({"type": "response.reasoning_summary_part.added", "item_id": item["id"],
                            "output_index": r.index, "summary_index": 0, "part": {"type": "summary_text", "text": ""}})
        r.parts.append(text)
        if self._summary:
            self._emit({"type": "response.reasoning_summary_text.delta", "item_id": r.item["id"],
                        "output_index": r.index, "summary_index": 0, "delta": text})
        self._emit({"type": "response.reasoning_text.delta", "item_id": r.item["id"], "output_index": r.index,
                    "content_index": 0, "delta": text})

    def _text_delta(self, text: str, kind: PartKind, logprobs: list[Logprob] | None) -> None:
        if not text:
            return
        m = self._message
        if m is None:
            self._close_exclusive("completed")
            item: ResponseOutputMessage = {"id": self._new_id("msg"), "type": "message", "role": "assistant",
                                           "status": "in_progress", "content": []}
            m = self._message = _Message(item, self._add(item))
        if m.kind != kind:
            self._close_part(m)
            m.kind = kind
            m.content_index = len(m.item["content"])
            part: MessageContent = {"type": "output_text", "text": "", "annotations": [], "logprobs": []} \
                if kind == "output_text" else {"type": "refusal", "refusal": ""}
            m.item["content"].append(part)
            self._emit({"type": "response.content_part.added", "item_id": m.item["id"], "output_index": m.index,
                        "content_index": m.content_index, "part": part.copy()})
        m.parts.append(text)
        if kind == "output_text":
            lp = logprobs or []
            m.logprobs.extend(lp)
            self._emit({"type": "response.output_text.delta", "item_id": m.item["id"], "output_index": m.index,
                        "content_index": m.content_index, "delta": text, "logprobs": lp})
        else:
            self._emit({"type": "response.refusal.delta", "item_id": m.item["id"], "output_index": m.index,
                        "content_index": m.content_index, "delta": text})

    def _tool_call_delta(self, delta: ChatToolCallDelta) -> None:
        index = delta.get("index")
        if not isinstance(index, int):
            index = len(self._calls)
        fn = obj(delta.get("function"))
        call = self._calls.get(index)
        if call is None:
            self._open_named_calls()  # a new call begins: the names of the earlier ones are complete
            call = self._calls[index] = _Call()
        call_id = delta.get("id")
        repeats_id = isinstance(call_id, str) and call_id != "" and call_id == call.call_id
        if isinstance(call_id, str) and call_id and not call.call_id:
            call.call_id = call_id
        args = fn.get("arguments")
        if isinstance(args, dict):  # a few servers send parsed arguments
            args = orjson.dumps(args).decode()
        name = fn.get("name")
        # Some servers split a name over the deltas before the arguments ("get_", "wea", "ther"); others send
        # it whole again in every delta. A name that comes with argument text, or again with the call's id,
        # is such a repeat; and once the item is out, its name is settled.
        if (isinstance(name, str) and name and call.item is None
                and not (call.name and (args or (repeats_id and name == call.name)))):
            call.name += name
        if isinstance(args, str) and args:
            call.pending.append(args)
        if call.item is None and call.name and call.pending:  # the arguments begin: the name is complete
            self._open_call(call)
        if call.item is not None and call.pending:
            text = "".join(call.pending)
            call.pending.clear()
            call.args.append(text)
            if not call.custom:  # a freeform tool's input is decoded from the JSON once complete
                self._emit({"type": "response.function_call_arguments.delta", "item_id": call.item["id"],
                            "output_index": call.index, "delta": text})

    def _open_call(self, call: _Call) -> None:
        # Content the splitter still holds (a partial `<think>` or `</think>`, whitespace) came before this
        # call: it must land in the reasoning or message, ahead of the call, not after it. Mere whitespace
        # (many models emit "\n\n" before their tool calls) makes no message of its own.
        reasoning, text = self._think.flush()
        self._reasoning_delta(reasoning)
        if self._message is not None or text.strip():
            self._text_delta(text, "output_text", None)
        self._close_exclusive("completed")
        call.custom = call.name in self._custom_names
        call_id = call.call_id or self._new_id("call")
        item: ResponseFunctionToolCall | ResponseCustomToolCall
        if call.custom:
            item = {"id": self._new_id("ctc"), "type": "custom_tool_call", "call_id": call_id, "name": call.name,
                    "input": "", "status": "in_progress"}
        else:
            item = {"id": self._new_id("fc"), "type": "function_call", "call_id": call_id, "name": call.name,
                    "arguments": "", "status": "in_progress"}
            if call.name in self._namespaces:  # flattened from a namespace tool: say which one
                item["namespace"] = self._namespaces[call.name]
        call.item = item
        call.index = self._add(item)
        self._open_calls.append(call)

    # ---- closing ------------------------------------------------------------------------------

    def _close_exclusive(self, status: ItemStatus) -> None:
        r = self._reasoning
        if r is not None:
            self._reasoning = None
            text = "".join(r.parts)
            self._set_reasoning_text(r.item, text)
            r.item["status"] = status
            item_id = r.item["id"]
            if self._summary:
                self._emit({"type": "response.reasoning_summary_text.done", "item_id": item_id,
                            "output_index": r.index, "summary_index": 0, "text": text})
                self._emit({"type": "response.reasoning_summary_part.done", "item_id": item_id, "output_index": r.index,
                            "summary_index": 0, "part": {"type": "summary_text", "text": text}})
            self._emit({"type": "response.reasoning_text.done", "item_id": item_id, "output_index": r.index,
                        "content_index": 0, "text": text})
            self._emit({"type": "response.output_item.done", "output_index": r.index, "item": r.item})
        m = self._message
        if m is not None:
            self._message = None
            self._close_part(m)
            m.item["status"] = status
            self._emit({"type": "response.output_item.done", "output_index": m.index, "item": m.item})

    def _set_reasoning_text(self, item: ResponseReasoningItem, text: str) -> None:
        item["content"] = [{"type": "reasoning_text", "text": text}]
        if self._summary:
            item["summary"] = [{"type": "summary_text", "text": text}]
        if self._seal is not None:
            item["encrypted_content"] = self._seal(text)

    def _close_part(self, m: _Message) -> None:
        if m.kind is None:
            return
        text = "".join(m.parts)
        m.parts.clear()
        item_id = m.item["id"]
        part = m.item["content"][m.content_index]
        if part["type"] == "output_text":
            if CLOSE in text and self._opts.think_tags is True:
                self._text_closed_think = True
            part["text"] = text
            part["logprobs"] = m.logprobs
            m.logprobs = []
            self._emit({"type": "response.output_text.done", "item_id": item_id, "output_index": m.index,
                        "content_index": m.content_index, "text": text, "logprobs": part["logprobs"]})
        else:
            part["refusal"] = text
            self._emit({"type": "response.refusal.done", "item_id": item_id, "output_index": m.index,
                        "content_index": m.content_index, "refusal": text})
        self._emit({"type": "response.content_part.done", "item_id": item_id, "output_index": m.index,
                    "content_index": m.content_index, "part": part})
        m.kind = None

    def _open_named_calls(self) -> None:
        """Announce the calls whose name is known but whose arguments have not begun (in order)."""
        for call in self._calls.values():
            if call.item is None and call.name:
                self._open_call(call)

    def _close_call(self, call: _Call, status: ItemStatus) -> None:
        self._open_calls.remove(call)
        item = call.item
        assert item is not None
        text = "".join(call.args) + "".join(call.pending)
        item["status"] = status
        if item["type"] == "custom_tool_call":
            item["input"] = _custom_input(text)
            if item["input"]:
                self._emit({"type": "response.custom_tool_call_input.delta", "item_id": item["id"],
                            "output_index": call.index, "delta": item["input"]})
            self._emit({"type": "response.custom_tool_call_input.done", "item_id": item["id"],
                        "output_index": call.index, "input": item["input"]})
        else:
            if call.pending:
                self._emit({"type": "response.function_call_arguments.delta", "item_id": item["id"],
                            "output_index": call.index, "delta": "".join(call.pending)})
            item["arguments"] = text
            self._emit({"type": "response.function_call_arguments.done", "item_id": item["id"],
                        "output_index": call.index, "name": item["name"], "arguments": text})
        self._emit({"type": "response.output_item.done", "output_index": call.index, "item": item})

    # ---- plumbing -----------------------------------------------------------------------------

    def _add(self, item: ResponseOutputItem) -> int:
        index = len(self._output)
        self._output.append(item)
        # A copy: the live item keeps growing, the event must show it as it was when added.
        self._emit({"type": "response.output_item.added", "output_index": index, "item": _copy_item(item)})
        return index

    def _emit(self, event: ResponseStreamEvent) -> None:
        event["sequence_number"] = self._seq
        self._seq += 1
        self._events.append(event)

    def _take(self) -> list[ResponseStreamEvent]:
        events = self._events
        self._events = []
        return events


class _Reasoning:
    __slots__ = ("item", "index", "parts")

    def __init__(self, item: ResponseReasoningItem, index: int) -> None:
        self.item = item
        self.index = index
        self.parts: list[str] = []


class _Message:
    __slots__ = ("item", "index", "parts", "kind", "content_index", "logprobs")

    def __init__(self, item: ResponseOutputMessage, index: int) -> None:
        self.item = item
        self.index = index
        self.parts: list[str] = []
        self.kind: PartKind | None = None
        self.content_index = -1
        self.logprobs: list[Logprob] = []


class _Call:
    __slots__ = ("call_id", "name", "item", "index", "args", "pending", "custom")

    def __init__(self) -> None:
        self.call_id = ""
        self.name = ""
        self.item: ResponseFunctionToolCall | ResponseCustomToolCall | None = None
        self.index = -1
        self.args: list[str] = []
        self.pending: list[str] = []
        self.custom = False


def _snapshot(response: Response) -> Response:
    return {**response, "output": list(response["output"])}


def _copy_item(item: ResponseOutputItem) -> ResponseOutputItem:
    """The item with its lists copied (they grow while it is open)."""
    if item["type"] == "message":
        message = item.copy()
        message["content"] = list(item["content"])
        return message
    if item["type"] == "reasoning":
        reasoning = item.copy()
        reasoning["summary"] = list(item["summary"])
        reasoning["content"] = list(item["content"])
        return reasoning
    return item.copy()


def _custom_tool_names(own: list[object], loaded: list[object]) -> frozenset[str]:
    """The freeform tools offered: the request's own, then those a tool search loaded under a new name."""
    offered = _flattened(own) + _loaded_first(own, loaded)
    return frozenset(name for namespace, name, kind in offered if namespace is None and kind == "custom")


def _namespace_of_tools(own: list[object], loaded: list[object]) -> dict[str, str]:
    """Function name -> namespace name, for the function tools that `to_chat_request` flattened: from the
    request's namespaces, then from namespaces a tool search loaded (the first time a name is offered)."""
    offered = _flattened(own) + _loaded_first(own, loaded)
    return {name: namespace for namespace, name, _ in offered if namespace is not None}


def _tool_lists(request: Mapping[str, object]) -> tuple[list[object], list[object]]:
    """The request's own tools, and the tools its `tool_search_output` items loaded."""
    tools = request.get("tools")
    return (tools if isinstance(tools, list) else []), tool_search_loads(request)


def _flattened(tools: list[object]) -> list[tuple[str | None, str, object]]:
    """(namespace or None, name, type) of every named tool, top-level or inside a namespace, in order."""
    out: list[tuple[str | None, str, object]] = []
    for t in tools:
        if not (isinstance(t, dict) and isinstance(t.get("name"), str)):
            continue
        if t.get("type") != "namespace":
            out.append((None, t["name"], t.get("type")))
            continue
        inner = t.get("tools")
        for sub in inner if isinstance(inner, list) else []:
            if isinstance(sub, dict) and isinstance(sub.get("name"), str):
                out.append((t["name"], sub["name"], sub.get("type")))
    return out


def _loaded_first(own: list[object], loaded: list[object]) -> list[tuple[str | None, str, object]]:
    """The loaded tools `to_chat_request` offers: each name the first time, unless the request's own has it."""
    known = {name for _, name, _ in _flattened(own)}
    out = []
    for namespace, name, kind in _flattened(loaded):
        if name not in known:
            known.add(name)
            out.append((namespace, name, kind))
    return out


def _custom_input(arguments: str) -> str:
    """The `input` string out of `{"input": "..."}`; the raw text if the model did not send JSON."""
    try:
        parsed = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return arguments
    if isinstance(parsed, dict) and isinstance(parsed.get("input"), str):
        return str(parsed["input"])
    return arguments


def _logprobs(logprobs: object) -> list[Logprob] | None:
    # Token values are the upstream's, copied unchecked (they are Any to mypy, read out of a dict
    # narrowed by isinstance): the bridge has always passed them on as they came.
    if not isinstance(logprobs, dict) or not isinstance(logprobs.get("content"), list):
        return None
    out: list[Logprob] = []
    for lp in logprobs["content"]:
        if isinstance(lp, dict):
            out.append({
                "token": lp.get("token", ""),
                "logprob": lp.get("logprob", 0.0),
                "bytes": lp.get("bytes") or [],
                "top_logprobs": [
                    {"token": t.get("token", ""), "logprob": t.get("logprob", 0.0), "bytes": t.get("bytes") or []}
                    for t in lp.get("top_logprobs") or [] if isinstance(t, dict)
                ],
            })
    return out
