"""The repair machine for a native Responses event stream. Pure, sans-I/O.

Feed it the upstream's events as decoded, `(SSE event name or None, data)`; it returns the events to send
the client, in order, each numbered by the one `_number` with a gapless `sequence_number`. What it mends:

- `type` from the SSE name when the data has none; events it cannot place are dropped (`dropped` says which);
- `output_index` from the order of `response.output_item.added`, `content_index` from the order of the
  item's content parts, `item_id` rewritten to the item's id (an item without one gets a new id; an event
  naming no known item is matched to the newest open item of its kind, as llama.cpp's need);
- the closing events an upstream left out (`output_text.done`, `content_part.done`,
  `function_call_arguments.done`, `reasoning_text.done`, `output_item.done`), with a last delta when a
  `.done` value extends what the deltas said; text deltas for which no item was announced open one;
- `response.created` / `in_progress` first, their snapshots completed with the request's echo
  (`snapshot.complete`); `id`, `created_at` and `model` fixed by the first snapshot for the whole stream;
- exactly one terminal event, last, its Response completed and its `output` the items as the stream
  closed them; `completed` becomes `incomplete` when the output token count reached `max_output_tokens`
  (`snapshot.is_cut`); an `error` event or a stream that stops without a terminal ends in `response.failed`.

A well-formed stream (OpenAI's, the bridge's own) comes out with the same content: every field present is
kept as it came, so the machine has no separate "already well formed" path to keep in step with this one.

When the request sets `max_output_tokens`, closing events (`*.done`, and what the repair adds for them) are
held until the next other event goes out: when the terminal event that follows shows the answer was cut, the
items that closed in that last run (the ones the cut left open) say `incomplete`. Deltas, and everything
else, go out at once.

An event handed out is never changed afterwards; the upstream's dicts are copied, not changed.

`defects` says what the upstream got wrong (each fault once, in the order found): no or renumbered
`sequence_number`, missing or rewritten indexes and item ids, data-only frames, bare snapshots, items without
an id, events it could not place, `completed` for a cut answer. `repaired` is true when there is any: the
bridge's `auto` mode reads it to decide that an upstream's own `/responses` is not worth using.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import cast

from ...errors import UpstreamProtocolError
from ...wire.responses import Response, ResponseStreamEvent
from .items import JSON, Clock, NewId, id_prefix, obj, part_text, repair_item, repair_part
from .snapshot import (
    CUT_REPORTED_COMPLETED,
    TERMINAL_STATUS,
    bare,
    base_envelope,
    complete,
    finish,
    is_cut,
    max_output_tokens,
)
from .state import FAMILY_OF_PART, FINAL_FIELDS, PART_TYPE, Item, Part, Streak, part_at, placed

_LIFECYCLE = {"response.created", "response.in_progress", "response.queued"}
# Event family -> (the item type it belongs to, the part type it writes, the field with its text).
_PART_EVENTS = {
    "response.output_text": ("message", "output_text", "text"),
    "response.refusal": ("message", "refusal", "refusal"),
    "response.reasoning_text": ("reasoning", "reasoning_text", "text"),
}
_ARGUMENT_EVENTS = {
    "response.function_call_arguments": ("function_call", "arguments"),
    "response.custom_tool_call_input": ("custom_tool_call", "input"),
}
_KIND_OF_FAMILY = {
    "response.content_part": "message",
    "response.reasoning_summary_part": "reasoning",
    "response.reasoning_summary_text": "reasoning",
}
NO_TERMINAL = "The upstream's Responses stream ended without a terminal event (response.completed, " \
              "response.incomplete or response.failed)."


class StreamRepair:
    """One repaired stream. `feed(name, data)` -> the events to send for one upstream event; `finish()` when
    the upstream's stream ended (also after `[DONE]`); `fail(code, message)` when it failed. After the terminal
    event every call returns `[]`. `response` is the final Response once `done`.

    `request` is the client's create request (untrusted JSON), read for the echo and `max_output_tokens`;
    `model` names the model where the upstream does not; `store` is the effective `store`, echoed where the
    upstream says nothing.
    """

    def __init__(self, request: Mapping[str, object], *, model: str, new_id: NewId, clock: Clock,
                 store: bool = False) -> None:
        self._request = request
        self._model = model
        self._new_id = new_id
        self._clock = clock
        self._store = store
        self._limit = max_output_tokens(request)
        self._seq = 0
        self._out: list[JSON] = []
        self._held: list[JSON] = []
        self._closing = False
        self._base: JSON | None = None  # the echo, under the identity the first snapshot fixed
        self._in_progress = False
        self._items: list[Item] = []
        self._open: list[Item] = []
        self._by_id: dict[str, Item] = {}  # item ids, and the call_ids of calls (llama.cpp names them so)
        self._last: Streak | None = None
        self.response: Response | None = None
        self.done = False
        self.dropped: list[str] = []  # the types of upstream events that could not be placed, for the log
        self.defects: list[str] = []  # what the upstream got wrong, each once

    @property
    def repaired(self) -> bool:
        """The upstream's stream needed mending (see `defects`), as opposed to passing as it came."""
        return bool(self.defects)

    # ---- public API ---------------------------------------------------------------------------

    def feed(self, name: str | None, data: Mapping[str, object]) -> list[ResponseStreamEvent]:
        if self.done:
            return []
        kind = data.get("type")
        last = self._last
        if last is not None and kind == last[0] and data.get("item_id") == last[1] \
                and data.get("content_index") == last[2]:
            fast = self._next_delta(data, last)
            if fast is not None:
                return fast
        self._last = None
        if name is None:
            self._defect("data-only frames (no event: lines)")
        dropped = len(self.dropped)
        if isinstance(kind, str):
            event = dict(data)
        elif name:
            kind = name
            event = {"type": name, **data}
        else:
            self.dropped.append("(no type)")
            return []
        # What the repair sends for a closing event (a last delta, a part the stream never showed) is part of
        # the closing run, held with it.
        self._closing = kind.endswith(".done")
        if kind in _LIFECYCLE:
            self._lifecycle(kind, event)
        else:
            self._start()
            family, _, step = kind.rpartition(".")
            if kind == "response.output_item.added":
                self._added(event)
            elif kind == "response.output_item.done":
                self._item_done(event)
            elif family in _PART_EVENTS:
                self._part_event(event, family, step)
            elif family in _ARGUMENT_EVENTS:
                self._argument_event(event, family, step)
            elif kind in TERMINAL_STATUS:
                self._terminal(event, kind)
            elif kind == "response.content_part.added":
                self._part_added(event)
            elif kind == "response.content_part.done":
                self._part_done(event)
            elif kind == "error":
                code, message = event.get("code"), event.get("message")
                self._fail(code if isinstance(code, str) and code else "upstream_error",
                           message if isinstance(message, str) and message else "The upstream sent an error event.")
            else:
                self._other(event, _KIND_OF_FAMILY.get(family))
        self._closing = False
        if len(self.dropped) > dropped:
            self._defect("events that could not be placed")
        self._check(data, event)
        return self._take()

    def _next_delta(self, data: Mapping[str, object], last: Streak) -> list[ResponseStreamEvent] | None:
        """The common case, kept cheap: one more delta of the part (or call) the previous event wrote to,
        named the same way, so every lookup and check of the first one holds."""
        delta = data.get("delta")
        if not isinstance(delta, str) or self._held:
            return None
        kind, _, _, it, index, part = last
        (part.texts if part is not None else it.args).append(delta)
        event = dict(data)
        event["item_id"] = it.id
        event["output_index"] = it.index
        if part is not None:
            event["content_index"] = index
            if kind == "response.output_text.delta" and not isinstance(event.get("logprobs"), list):
                event["logprobs"] = []
        if data.get("output_index") != it.index or data.get("sequence_number") != self._seq:
            self._check(data, event)
        event["sequence_number"] = self._seq
        self._seq += 1
        return [cast(ResponseStreamEvent, event)]

    def _defect(self, what: str) -> None:
        if what not in self.defects:
            self.defects.append(what)

    def _check(self, data: Mapping[str, object], event: Mapping[str, object]) -> None:
        """What the machine changed in the upstream's event `data` (its copy is `event`) was a defect."""
        for key in ("output_index", "content_index", "item_id"):
            if key in event and data.get(key) != event[key]:
                self._defect(f"no {key}" if key not in data else f"{key} rewritten")
        kind = event.get("type")
        if kind in _LIFECYCLE and bare(obj(data.get("response"))):
            self._defect("bare response snapshots")

    def finish(self) -> list[ResponseStreamEvent]:
        """The upstream's stream ended: without a terminal event, that is a failure of the upstream's."""
        return self.fail(UpstreamProtocolError.code, NO_TERMINAL)

    def fail(self, code: str, message: str) -> list[ResponseStreamEvent]:
        """End with `response.failed`, keeping what arrived: open items are in the final object, `incomplete`."""
        self._fail(code, message)
        return self._take()

    def _fail(self, code: str, message: str) -> None:
        if self.done:
            return
        self._start()
        self._release()
        response = self._snapshot({})
        response["output"] = [it.final if it.final is not None else self._current(it, "incomplete")
                              for it in self._items]
        response["error"] = {"code": code, "message": message}
        finish(response, "failed", limit=None, clock=self._clock)
        self._end({"type": "response.failed", "response": response})

    # ---- lifecycle ----------------------------------------------------------------------------

    def _lifecycle(self, kind: str, event: JSON) -> None:
        upstream = obj(event.get("response"))
        if self._base is None:
            self._base = base_envelope(upstream, self._request, model=self._model, new_id=self._new_id,
                                       clock=self._clock, store=self._store)
            if kind != "response.created":  # the stream must open with `created`
                self._stamp({"type": "response.created", "response": self._snapshot(upstream)})
        elif kind == "response.created":
            self.dropped.append(kind)  # a second `created`
            return
        event["response"] = self._snapshot(upstream)
        self._in_progress = self._in_progress or kind == "response.in_progress"
        self._stamp(event)

    def _start(self) -> None:
        """`created` and `in_progress` before anything else, where the upstream sent none."""
        if self._base is None:
            self._lifecycle("response.created", {"type": "response.created"})
        if not self._in_progress:
            self._lifecycle("response.in_progress", {"type": "response.in_progress"})

    def _snapshot(self, upstream: Mapping[str, object]) -> JSON:
        base = self._base
        assert base is not None
        response = complete(upstream, base)
        for key in ("id", "created_at", "model"):  # a response's identity does not change mid-stream
            response[key] = base[key]
        if not isinstance(response.get("status"), str):
            response["status"] = "in_progress"
        if not isinstance(response.get("output"), list):
            response["output"] = []
        self.response = cast(Response, response)
        return response

    # ---- items --------------------------------------------------------------------------------

    def _added(self, event: JSON) -> None:
        item = event.get("item")
        if not isinstance(item, dict):
            self.dropped.append("response.output_item.added")
            return
        upstream_id = item.get("id")
        if isinstance(upstream_id, str) and upstream_id in self._by_id:
            self.dropped.append("response.output_item.added")  # announced twice
            return
        self._add(item, event)

    def _add(self, item: Mapping[str, object], event: JSON) -> Item:
        upstream_id = item.get("id")
        kind = item.get("type")
        if not (isinstance(upstream_id, str) and upstream_id):
            self._defect("items without an id")
        item_id = upstream_id if isinstance(upstream_id, str) and upstream_id else self._new_id(id_prefix(kind))
        added = repair_item(item, item_id, "in_progress")
        it = Item(len(self._items), item_id, kind if isinstance(kind, str) else "", added)
        self._items.append(it)
        self._open.append(it)
        self._by_id[item_id] = it
        call_id = added.get("call_id")
        if isinstance(call_id, str) and call_id and call_id not in self._by_id:
            self._by_id[call_id] = it
        event["output_index"] = it.index
        event["item"] = added
        self._stamp(event)
        return it

    def _announce(self, item: Mapping[str, object]) -> Item:
        """Announce an item only its final form showed; closing it then sends its content as deltas."""
        skeleton = {k: v for k, v in item.items() if k not in FINAL_FIELDS}
        return self._add(skeleton, {"type": "response.output_item.added"})

    def _implicit(self, kind: str, item_id: object) -> Item:
        """An item for deltas no `output_item.added` announced (servers that skip it)."""
        item: JSON = {"type": kind, "status": "in_progress"}
        if isinstance(item_id, str) and item_id:
            item["id"] = item_id
        item.update({"role": "assistant", "content": []} if kind == "message" else {"summary": [], "content": []})
        return self._add(item, {"type": "response.output_item.added"})

    def _item_done(self, event: JSON) -> None:
        item = event.get("item")
        if not isinstance(item, dict):
            self.dropped.append("response.output_item.done")
            return
        it = self._find_done(item, event.get("output_index"))
        if it is None:  # never announced: announce it now, then close it
            it = self._announce(item)
        elif it.final is not None:
            self.dropped.append("response.output_item.done")  # closed twice
            return
        self._close(it, item, "completed", event)

    def _find_done(self, item: Mapping[str, object], index: object) -> Item | None:
        for key in ("id", "call_id"):
            value = item.get(key)
            if isinstance(value, str) and value in self._by_id:
                return self._by_id[value]
        if isinstance(index, int) and 0 <= index < len(self._items) and self._items[index].kind == item.get("type"):
            return self._items[index]
        return next((it for it in self._open if it.kind == item.get("type")), None)

    def _close(self, it: Item, upstream: Mapping[str, object] | None, status: str, event: JSON | None = None) -> None:
        """Emit what the upstream left out of closing `it`, then its `output_item.done`."""
        final = self._final(it, upstream, status)
        if it.kind in ("message", "reasoning"):
            content = final.get("content")
            parts = content if isinstance(content, list) else []
            for extra in parts[len(it.parts):]:  # parts the stream never showed
                self._new_part(it, str(obj(extra).get("type") or PART_TYPE[it.kind]))
            texts = [part_text(p) for p in parts]
            for index, part in enumerate(it.parts):
                text = texts[index] if index < len(texts) else None
                self._close_part(it, index, part, part.value() if text is None else text)
        elif it.kind in ("function_call", "custom_tool_call") and it.args_done is None:
            field = "arguments" if it.kind == "function_call" else "input"
            value = final.get(field)
            self._arguments_done(it, value if isinstance(value, str) else it.joined())
        it.final = final
        self._open.remove(it)
        done: JSON = event if event is not None else {"type": "response.output_item.done"}
        done["output_index"] = it.index
        done["item"] = final
        self._stamp(done)

    def _final(self, it: Item, upstream: Mapping[str, object] | None, status: str) -> JSON:
        """The item as it closes: the upstream's final form where it sent one, the rest from the stream."""
        if upstream is None:
            return self._current(it, status)
        final = dict(upstream)
        if it.kind in ("message", "reasoning") and it.parts and not final.get("content"):
            final["content"] = [part.final() for part in it.parts]
        field = "arguments" if it.kind == "function_call" else "input" if it.kind == "custom_tool_call" else ""
        if field and not isinstance(final.get(field), str):
            final[field] = it.args_done if it.args_done is not None else it.joined()
        for key, value in it.added.items():
            if key not in final:
                final[key] = value
        if final.get("status") == "in_progress":
            final["status"] = status
        return repair_item(final, it.id, status)

    def _current(self, it: Item, status: str) -> JSON:
        """The item as far as the stream got."""
        item = {**it.added, "status": status}
        if it.kind in ("message", "reasoning"):
            item["content"] = [part.final() for part in it.parts]
        elif it.kind == "function_call":
            item["arguments"] = it.joined()
        elif it.kind == "custom_tool_call":
            item["input"] = it.joined()
        return repair_item(item, it.id, status)

    def _find(self, event: Mapping[str, object], kind: str | None) -> Item | None:
        """The open item an event is about: by its `item_id`, else its `output_index`, else the newest open
        item of `kind`."""
        item_id = event.get("item_id")
        if isinstance(item_id, str):
            it = self._by_id.get(item_id)
            if it is not None:
                return it if it.final is None else None
        index = event.get("output_index")
        if isinstance(index, int) and 0 <= index < len(self._items):
            it = self._items[index]
            if it.final is None and (kind is None or it.kind == kind):
                return it
        if kind is None:
            return None
        return next((it for it in reversed(self._open) if it.kind == kind), None)

    # ---- parts --------------------------------------------------------------------------------

    def _part_added(self, event: JSON) -> None:
        it = self._find(event, "message")
        part = event.get("part")
        if it is None or not isinstance(part, dict):
            self.dropped.append("response.content_part.added")
            return
        repaired = repair_part(part, "reasoning_text" if it.kind == "reasoning" else "output_text")
        it.parts.append(Part(repaired, announced=True))
        self._stamp(placed(event, it, len(it.parts) - 1, part=repaired))

    def _part_done(self, event: JSON) -> None:
        it = self._find(event, "message")
        found = None if it is None else part_at(it, event.get("content_index"), None)
        if it is None or found is None:
            self.dropped.append("response.content_part.done")
            return
        index, part = found
        text = part_text(event.get("part"))
        self._close_part(it, index, part, part.value() if text is None else text, event)

    def _close_part(self, it: Item, index: int, part: Part, text: str, event: JSON | None = None) -> None:
        family = FAMILY_OF_PART.get(str(part.part.get("type")))
        if part.done is None and family is not None:
            self._text_done(it, index, part, family, text)
        if part.announced and not part.closed:
            part.closed = True
            upstream = event.get("part") if event is not None else None
            closed = repair_part(upstream if isinstance(upstream, dict) else part.final(), str(part.part["type"]))
            done: JSON = event if event is not None else {"type": "response.content_part.done"}
            self._stamp(placed(done, it, index, part=closed))

    def _part_event(self, event: JSON, family: str, step: str) -> None:
        kind, part_type, field = _PART_EVENTS[family]
        it = self._find(event, kind)
        item_id = event.get("item_id")
        if it is None and step in ("delta", "done") and not (isinstance(item_id, str) and item_id in self._by_id):
            it = self._implicit(kind, item_id)  # deltas of an item no `output_item.added` announced
        found = None if it is None else part_at(it, event.get("content_index"), part_type)
        if found is None and it is not None and step in ("delta", "done"):
            found = self._new_part(it, part_type)
        if it is None or found is None or found[1].done is not None:
            self.dropped.append(str(event["type"]))
            return
        index, part = found
        if step == "delta":
            delta = event.get("delta")
            if not isinstance(delta, str):
                self.dropped.append(str(event["type"]))
                return
            streak = (event["type"], event.get("item_id"), event.get("content_index"), it, index, part)
            part.texts.append(delta)
            if part_type == "output_text" and not isinstance(event.get("logprobs"), list):
                event["logprobs"] = []
            self._stamp(placed(event, it, index))
            self._last = streak
        elif step == "done":
            text = event.get(field)
            self._text_done(it, index, part, family, text if isinstance(text, str) else part.value(), event)
        else:
            self._stamp(placed(event, it, index))

    def _new_part(self, it: Item, part_type: str) -> tuple[int, Part]:
        part = Part(repair_part({"type": part_type}), announced=it.kind == "message")
        it.parts.append(part)
        index = len(it.parts) - 1
        if part.announced:
            self._stamp(placed({"type": "response.content_part.added"}, it, index, part=dict(part.part)))
        return index, part

    def _text_done(self, it: Item, index: int, part: Part, family: str, text: str, event: JSON | None = None) -> None:
        def delta(rest: str) -> JSON:
            last: JSON = {"type": family + ".delta", "delta": rest}
            if family == "response.output_text":
                last["logprobs"] = []
            return placed(last, it, index)

        self._catch_up(part.texts, text, delta)
        part.done = text
        done: JSON = event if event is not None else {"type": family + ".done"}
        done[_PART_EVENTS[family][2]] = text
        if family == "response.output_text" and not isinstance(done.get("logprobs"), list):
            done["logprobs"] = []
        self._stamp(placed(done, it, index))

    # ---- function call arguments, custom tool input --------------------------------------------

    def _argument_event(self, event: JSON, family: str, step: str) -> None:
        kind, field = _ARGUMENT_EVENTS[family]
        it = self._find(event, kind)
        if it is None or it.args_done is not None:
            self.dropped.append(str(event["type"]))
            return
        if step == "delta":
            delta = event.get("delta")
            if not isinstance(delta, str):
                self.dropped.append(str(event["type"]))
                return
            streak = (event["type"], event.get("item_id"), event.get("content_index"), it, None, None)
            it.args.append(delta)
            self._stamp(placed(event, it, None))
            self._last = streak
        elif step == "done":
            value = event.get(field)
            self._arguments_done(it, value if isinstance(value, str) else it.joined(), event)
        else:
            self._stamp(placed(event, it, None))

    def _arguments_done(self, it: Item, value: str, event: JSON | None = None) -> None:
        family, field = ("response.function_call_arguments", "arguments") if it.kind == "function_call" \
            else ("response.custom_tool_call_input", "input")
        self._catch_up(it.args, value, lambda delta: placed({"type": family + ".delta", "delta": delta}, it, None))
        it.args_done = value
        done: JSON = event if event is not None else {"type": family + ".done"}
        done[field] = value
        if it.kind == "function_call" and not isinstance(done.get("name"), str):
            done["name"] = it.added.get("name", "")
        self._stamp(placed(done, it, None))

    def _catch_up(self, texts: list[str], value: str, delta: Callable[[str], JSON]) -> None:
        """A `.done` value that extends what the deltas said (or that came without any) gets the rest as one
        last delta, so that a client reading deltas alone has all of it."""
        said = "".join(texts)
        if value != said and value.startswith(said):
            rest = value[len(said):]
            texts.append(rest)
            self._stamp(delta(rest))

    # ---- the end ------------------------------------------------------------------------------

    def _terminal(self, event: JSON, kind: str) -> None:
        upstream = obj(event.get("response"))
        response = self._snapshot(upstream)
        status = TERMINAL_STATUS[kind]
        if status != "failed":
            cut = status == "completed" and is_cut(upstream.get("usage"), self._limit)
            if cut:
                self._defect(CUT_REPORTED_COMPLETED)
            if cut:  # the items the cut left open, which closed only as the answer ended
                for held in self._held:
                    item = held.get("item")
                    if held["type"] == "response.output_item.done" and isinstance(item, dict) \
                            and item.get("status") == "completed":
                        item["status"] = "incomplete"
            closing = "incomplete" if cut or status == "incomplete" else "completed"
            for it in list(self._open):
                self._close(it, None, closing)
            self._replay(upstream.get("output"), closing)
        response["output"] = [it.final if it.final is not None else self._current(it, "incomplete")
                              for it in self._items]
        status = finish(response, status, limit=self._limit, clock=self._clock)
        event["type"] = "response." + status
        event["response"] = response
        self._end(event)

    def _replay(self, output: object, status: str) -> None:
        """Items the upstream's final object has but its stream never showed: announced and closed now,
        so that clients that read the stream's items (Codex) see them."""
        for item in output if isinstance(output, list) else []:
            if isinstance(item, dict) and self._find_done(item, None) is None:
                self._close(self._announce(item), item, status)

    def _other(self, event: JSON, kind: str | None) -> None:
        """An event the machine has no rule for (summaries, annotations, built-in tools): placed on its item
        when it names one, passed on as it came when it names none."""
        if "item_id" not in event and "output_index" not in event:
            self._stamp(event)
            return
        it = self._find(event, kind)
        if it is None:
            self.dropped.append(str(event["type"]))
            return
        summary = event.get("summary_index")
        if kind == "reasoning" and not isinstance(summary, int):
            summary = it.summaries if event["type"] == "response.reasoning_summary_part.added" \
                else max(it.summaries - 1, 0)
            event["summary_index"] = summary
        if event["type"] == "response.reasoning_summary_part.added" and isinstance(summary, int):
            it.summaries = max(it.summaries, summary + 1)
        self._stamp(placed(event, it, None))

    def _end(self, event: JSON) -> None:
        self._release()
        self.done = True
        response = event["response"]
        assert isinstance(response, dict)
        self.response = cast(Response, response)
        self._stamp(event)

    # ---- plumbing -----------------------------------------------------------------------------

    def _stamp(self, event: JSON) -> None:
        if self._limit is not None and (self._closing or str(event["type"]).endswith(".done")):
            self._held.append(event)  # a closing event: the terminal may show the cut left its item open
            return
        if self._held:
            self._release()
        self._number(event)

    def _number(self, event: JSON) -> None:
        said = event.get("sequence_number")
        if said != self._seq:  # missing, or an event the upstream left out (or put elsewhere) came before
            self._defect("no sequence_number" if said is None else "sequence_number renumbered")
        event["sequence_number"] = self._seq
        self._seq += 1
        self._out.append(event)

    def _release(self) -> None:
        held, self._held = self._held, []
        for event in held:
            self._number(event)

    def _take(self) -> list[ResponseStreamEvent]:
        out, self._out = self._out, []
        return cast(list[ResponseStreamEvent], out)
