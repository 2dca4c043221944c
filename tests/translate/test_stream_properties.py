"""Property tests for the chat-chunk -> Responses event machine (WIRE.md "Stream grammar").

One generated upstream answer is rendered as chat chunks split at random points and as one non-stream
completion; the stream's events must follow the grammar, validate with the OpenAI SDK, feed the SDK's
own accumulator, and end in the same final object whatever the split, and the same as `to_response`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from openai._types import omit
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import BaseModel, TypeAdapter

from openai_bridge.ids import SequentialIds
from openai_bridge.translate import StreamTranslator, to_response
from tests.support import conformance

JSON = dict[str, Any]
CLOCK = 1700000000
EVENT = TypeAdapter(ResponseStreamEvent)
TERMINAL = {"response.completed", "response.incomplete", "response.failed"}
FINISH = {"stop": "completed", "tool_calls": "completed", "length": "incomplete", "content_filter": "incomplete"}
# Fields the bridge sends that this SDK version does not declare (WIRE.md asks for them).
KNOWN_EXTRA = {
    ("ResponseFunctionCallArgumentsDoneEvent", "name"),
    *(("Response", f) for f in ("store", "presence_penalty", "frequency_penalty")),
}

# ---- the upstream answer ----------------------------------------------------------------------

FRAGMENTS = st.sampled_from([
    "<", ">", "</", "</thi", "<thi", "</think", "<b>", " ", "\n", "\n\n", "\t", "é", "中文", "😀", "\u2028",
    "Hello", "think", '"', "\\", "{}", "a<b", "<think>", "</think>",
])
TEXT = st.lists(st.one_of(FRAGMENTS, st.text(max_size=4)), min_size=1, max_size=8).map("".join)
REASONING = TEXT.filter(lambda s: "</think>" not in s)
# Leading whitespace / a lone tag prefix in plain content must stay text; a `<think>` opening it would be
# reasoning by design, so message texts do not start with one.
MESSAGE = TEXT.filter(lambda s: not s.lstrip().startswith("<think>"))
# A text that closes a think block it never opened is split as reasoning in a non-stream answer, but a
# stream can only learn it for next time (tests/service): here, texts are not of that kind.
MESSAGE = MESSAGE.filter(lambda s: "</think>" not in s or "<think>" in s[:s.index("</think>")])
NAME = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz_0123456789"), min_size=1, max_size=10)
JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
ARGUMENTS = st.one_of(
    st.just(""),
    st.builds(
        lambda v, ascii_: json.dumps(v, ensure_ascii=ascii_),
        st.dictionaries(st.text(max_size=5), JSON_VALUE, max_size=3),
        st.booleans(),
    ),
)


@dataclass(frozen=True)
class Answer:
    reasoning: str | None
    reasoning_via: str  # "reasoning_content" | "reasoning" | "think" | "think_unclosed" (cut, e.g. by length)
    think_lead: str  # whitespace before <think>, and between </think> and the text
    text: str | None
    calls: tuple[tuple[str, str, str], ...]  # (call_id, name, arguments)
    finish_reason: str
    usage: JSON = field(hash=False)

    @property
    def content(self) -> str | None:
        if self.reasoning_via == "think" and self.reasoning is not None:
            return f"{self.think_lead}<think>{self.reasoning}</think>{self.think_lead}{self.text or ''}"
        if self.reasoning_via == "think_unclosed" and self.reasoning is not None:
            return f"{self.think_lead}<think>{self.reasoning}"  # all of it is reasoning
        return self.text

    @property
    def expected_reasoning(self) -> str:
        return self.reasoning or ""

    @property
    def expected_text(self) -> str:
        if self.reasoning_via == "think_unclosed" and self.reasoning is not None:
            return ""
        if self.calls and not (self.text or "").strip():
            return ""  # mere whitespace before tool calls makes no message
        if self.reasoning_via == "think" and self.reasoning is not None:
            return (self.text or "").lstrip()  # whitespace after </think> is dropped
        if self.calls and not (self.text or "").strip():
            return ""  # mere whitespace before tool calls makes no message
        return self.text or ""


USAGE = st.builds(
    lambda p, c, cached, rt: {
        "prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c,
        "prompt_tokens_details": {"cached_tokens": cached}, "completion_tokens_details": {"reasoning_tokens": rt},
    },
    st.integers(0, 5000), st.integers(0, 5000), st.integers(0, 100), st.integers(0, 100),
)

ANSWERS = st.builds(
    Answer,
    reasoning=st.none() | REASONING,
    reasoning_via=st.sampled_from(["reasoning_content", "reasoning", "think", "think_unclosed"]),
    think_lead=st.sampled_from(["", "\n", "\n\n", " "]),
    # whitespace-only or a lone `<`: held back by the think splitter until something else arrives
    text=st.none() | MESSAGE | st.sampled_from(["\n", "\n\n", " ", "<", "<thi", "\n<think"]),
    calls=st.lists(st.tuples(NAME, ARGUMENTS), max_size=3).map(
        lambda cs: tuple((f"call_{i}x", name, args) for i, (name, args) in enumerate(cs))
    ),
    finish_reason=st.sampled_from(list(FINISH)),
    usage=USAGE,
)


def completion(answer: Answer) -> JSON:
    message: JSON = {"role": "assistant", "content": answer.content}
    if answer.reasoning is not None and not answer.reasoning_via.startswith("think"):
        message[answer.reasoning_via] = answer.reasoning
    if answer.calls:
        message["tool_calls"] = [
            {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}
            for cid, name, args in answer.calls
        ]
    return {
        "id": "chatcmpl-1", "object": "chat.completion", "created": CLOCK, "model": "up",
        "choices": [{"index": 0, "message": message, "finish_reason": answer.finish_reason, "logprobs": None}],
        "usage": answer.usage,
    }


@st.composite
def pieces(draw: st.DrawFn, text: str) -> list[str]:
    if text and draw(st.integers(0, 3)) == 0:
        return list(text)  # one character at a time
    cuts = sorted(set(draw(st.lists(st.integers(0, len(text)), max_size=6))))
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:], strict=False) if b > a] or [text]


def _chunk(delta: JSON, finish_reason: str | None = None) -> JSON:
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": CLOCK, "model": "up",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}]}


@st.composite
def chunks(draw: st.DrawFn, answer: Answer) -> list[JSON]:
    """The answer as a chat stream, split at random points (as `stream_options.include_usage` sends it)."""
    out = [_chunk({"role": "assistant", "content": ""})]
    if answer.reasoning is not None and not answer.reasoning_via.startswith("think"):
        out += [_chunk({answer.reasoning_via: p}) for p in draw(pieces(answer.reasoning))]
    if answer.content:
        out += [_chunk({"content": p}) for p in draw(pieces(answer.content))]
    heads: list[list[JSON]] = []
    queues: list[list[JSON]] = []
    # How upstreams send a name: whole in the first delta (OpenAI, vLLM), split over the first deltas
    # (Gemini-style: "get_", "wea", "ther"), or whole again in every delta of the call (MiniMax via NIM).
    naming = draw(st.sampled_from(["whole", "split", "repeated"]))
    for i, (cid, name, args) in enumerate(answer.calls):
        parts = draw(pieces(args)) if args else [""]
        first = draw(st.sampled_from(["", parts[0]])) if parts[0] else ""
        rest = parts[1:] if first else [p for p in parts if p]
        names = draw(pieces(name)) if naming == "split" else [name]
        head = [{"index": i, "id": cid, "type": "function", "function": {"name": names[0], "arguments": ""}}]
        head += [{"index": i, "function": {"name": n}} for n in names[1:]]
        tail = [{"index": i, "function": {"arguments": p}} for p in ([first] if first else []) + rest]
        if naming == "repeated":  # with the id too, before the arguments; and with every argument delta
            head += [{"index": i, "id": cid, "function": {"name": name}}] * draw(st.integers(0, 2))
            for delta in tail:
                delta["function"]["name"] = name
        heads.append(head)
        queues.append(tail)
    # Calls start in order, each with its name; some upstreams then interleave the argument deltas of
    # parallel calls.
    interleave = draw(st.booleans())
    started = 0
    while started < len(queues) or any(queues):
        live = [i for i in range(started) if queues[i]]
        if started < len(queues) and (not live or (interleave and draw(st.booleans()))):
            out += [_chunk({"tool_calls": [delta]}) for delta in heads[started]]
            started += 1
            continue
        pick = draw(st.sampled_from(live)) if interleave else live[0]
        out.append(_chunk({"tool_calls": [queues[pick].pop(0)]}))
    if draw(st.booleans()):
        out[-1]["choices"][0]["finish_reason"] = answer.finish_reason
    else:
        out.append(_chunk({}, answer.finish_reason))
    out.append({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": CLOCK, "model": "up",
                "choices": [], "usage": answer.usage})
    return out


# ---- running the machine ----------------------------------------------------------------------

def machine() -> StreamTranslator:
    return StreamTranslator({}, model="m", new_id=SequentialIds(), clock=lambda: CLOCK)


class Recorder:
    """Collects events, and what each looked like when it was handed out (a stored stream replays
    them later: an event must not change after it was sent)."""

    def __init__(self) -> None:
        self.events: list[JSON] = []
        self.sent: list[str] = []

    def __call__(self, batch: list[JSON]) -> None:
        self.events += batch
        self.sent += [json.dumps(e) for e in batch]

    def check_unchanged(self) -> None:
        assert [json.dumps(e) for e in self.events] == self.sent, "an event changed after it was sent"


def stream(chunk_list: list[JSON]) -> tuple[list[JSON], JSON]:
    m = machine()
    rec = Recorder()
    rec(m.start())
    for c in chunk_list:
        rec(m.feed(c))
    rec(m.finish())
    assert m.feed(chunk_list[0]) == [] and m.finish() == [] and m.fail("server_error", "x") == []
    rec.check_unchanged()
    assert [p for e in rec.events for p in conformance.event_problems(e)] == []
    return rec.events, m.response


def non_stream(answer: Answer) -> JSON:
    return to_response(completion(answer), request={}, model="m", new_id=SequentialIds(), clock=lambda: CLOCK)


def joined_texts(events: list[JSON]) -> dict[tuple[str, str, int], str]:
    """Joined deltas per (kind, item_id, content_index)."""
    out: dict[tuple[str, str, int], str] = {}
    for e in events:
        if e["type"].endswith(".delta"):
            key = (e["type"].removesuffix(".delta"), e["item_id"], e.get("content_index", 0))
            out[key] = out.get(key, "") + e["delta"]
    return out


def final_texts(response: JSON) -> tuple[str, str, list[tuple[str, str, str]]]:
    reasoning = "".join(c["text"] for i in response["output"] if i["type"] == "reasoning" for c in i["content"])
    text = "".join(
        c["text"] for i in response["output"] if i["type"] == "message" for c in i["content"]
        if c["type"] == "output_text"
    )
    calls = [(i["call_id"], i["name"], i["arguments"]) for i in response["output"] if i["type"] == "function_call"]
    return reasoning, text, calls


def no_unknown_fields(model: BaseModel, path: str = "") -> None:
    """The SDK models accept extra keys silently; a misspelt field would pass unnoticed without this."""
    extra = {k for k in (model.__pydantic_extra__ or {}) if (type(model).__name__, k) not in KNOWN_EXTRA}
    assert not extra, f"{path or type(model).__name__}: fields unknown to the SDK: {extra}"
    for name in type(model).model_fields:
        value = getattr(model, name)
        values = value if isinstance(value, list) else [value]
        for v in values:
            if isinstance(v, BaseModel):
                no_unknown_fields(v, f"{path}.{name}")


def check_grammar(events: list[JSON], response: JSON, *, failed: bool = False) -> None:
    """The WIRE.md invariants of one event stream; `response` is the translator's final object."""
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert [e["type"] for e in events[:2]] == ["response.created", "response.in_progress"]
    terminals = [e for e in events if e["type"] in TERMINAL]
    assert len(terminals) == 1 and events[-1] is terminals[0]
    assert events[-1]["response"] == response
    if failed:
        assert events[-1]["type"] == "response.failed"

    added: dict[int, JSON] = {}
    done: set[int] = set()
    open_parts: set[tuple[int, int]] = set()
    ids: dict[str, int] = {}
    for e in events[2:-1]:
        t = e["type"]
        if t == "response.output_item.added":
            assert e["output_index"] == len(added), "output_index in order of first appearance"
            added[e["output_index"]] = e["item"]
            ids[e["item"]["id"]] = e["output_index"]
            continue
        i = e["output_index"]
        assert i in added and i not in done, f"{t} names an item that is not open"
        if "item_id" in e:
            assert ids[e["item_id"]] == i
        if t == "response.output_item.done":
            assert e["item"]["id"] == added[i]["id"] and e["item"]["type"] == added[i]["type"]
            assert not any(p[0] == i for p in open_parts), "item done with a content part still open"
            done.add(i)
        elif t == "response.content_part.added":
            open_parts.add((i, e["content_index"]))
        elif t == "response.content_part.done":
            open_parts.remove((i, e["content_index"]))
        elif t in ("response.output_text.delta", "response.output_text.done"):
            assert (i, e["content_index"]) in open_parts
    assert [item["id"] for item in response["output"]] == [added[i]["id"] for i in range(len(added))]
    if not failed:
        assert done == set(added), "every item is done before the terminal event"
        # an item closed before the end is completed; one cut by length/content_filter is incomplete
        allowed = {"completed"} if response["status"] == "completed" else {"completed", "incomplete"}
        assert all(item["status"] in allowed for item in response["output"])

    # The joined deltas == the .done text == the text in the final object.
    deltas = joined_texts(events)
    by_id = {item["id"]: item for item in response["output"]}
    for e in events:
        t = e["type"]
        if t == "response.reasoning_text.done":
            assert deltas.get(("response.reasoning_text", e["item_id"], 0), "") == e["text"]
            assert by_id[e["item_id"]]["content"][0]["text"] == e["text"]
        elif t == "response.output_text.done":
            ci = e["content_index"]
            assert deltas.get(("response.output_text", e["item_id"], ci), "") == e["text"]
            assert by_id[e["item_id"]]["content"][ci]["text"] == e["text"]
        elif t == "response.function_call_arguments.done":
            assert deltas.get(("response.function_call_arguments", e["item_id"], 0), "") == e["arguments"]
            assert by_id[e["item_id"]]["arguments"] == e["arguments"]
    for (kind, item_id, ci), text in deltas.items():  # also what a failed response kept
        item = by_id[item_id]
        final = item.get("arguments") if kind.endswith("arguments") else item["content"][ci]["text"]
        assert final == text, f"{kind} of {item_id}: the final object lost streamed text"

    # Every event validates with the SDK, and the SDK's own accumulator takes the stream.
    state: ResponseStreamState[Any] = ResponseStreamState(input_tools=omit, text_format=omit)
    for e in events:
        parsed = EVENT.validate_python(e)
        no_unknown_fields(parsed)
        state.handle_event(parsed)
    final = Response.model_validate(response)
    no_unknown_fields(final)
    if response["status"] == "completed":
        completed = state._completed_response
        assert completed is not None
        assert completed.output_text == final_texts(response)[1] == final.output_text


# ---- properties -------------------------------------------------------------------------------

@settings(max_examples=150, deadline=None)
@given(answer=ANSWERS, data=st.data())
def test_any_split_gives_the_non_stream_response(answer: Answer, data: st.DataObject) -> None:
    one = data.draw(chunks(answer), label="split 1")
    two = data.draw(chunks(answer), label="split 2")
    events1, final1 = stream(one)
    events2, final2 = stream(two)

    # (c) the grammar, SDK validation and accumulation
    check_grammar(events1, final1)

    # (a) any two splits: same final object, same joined texts
    assert final1 == final2
    assert joined_texts(events1) == joined_texts(events2)

    # (b) the stream's final object is the non-stream response
    assert final1 == non_stream(answer)

    # the mapping: texts land where they belong, and reasoning never leaks into the message
    reasoning, text, calls = final_texts(final1)
    assert reasoning == answer.expected_reasoning
    assert text == answer.expected_text
    assert calls == list(answer.calls)
    if answer.expected_reasoning and answer.expected_reasoning not in answer.expected_text:
        assert answer.expected_reasoning not in text
    types = [item["type"] for item in final1["output"]]
    order = {"reasoning": 0, "message": 1, "function_call": 2}
    assert types == sorted(types, key=order.__getitem__), "items: reasoning, then message, then calls"
    assert types.count("reasoning") <= 1 and types.count("message") <= 1
    assert final1["status"] == FINISH[answer.finish_reason]
    assert final1["usage"]["input_tokens"] == answer.usage["prompt_tokens"]
    assert final1["usage"]["output_tokens_details"]["reasoning_tokens"] == (
        answer.usage["completion_tokens_details"]["reasoning_tokens"]
    )


@settings(max_examples=100, deadline=None)
@given(answer=ANSWERS, data=st.data())
def test_fail_mid_stream_ends_with_one_failed_event(answer: Answer, data: st.DataObject) -> None:
    chunk_list = data.draw(chunks(answer))
    cut = data.draw(st.integers(0, len(chunk_list)), label="cut")
    m = machine()
    rec = Recorder()
    rec(m.start())
    for c in chunk_list[:cut]:
        rec(m.feed(c))
    rec(m.fail("server_error", "upstream went away"))
    rec.check_unchanged()
    events = rec.events
    # nothing after the terminal event, whatever arrives
    for c in chunk_list[cut:]:
        assert m.feed(c) == []
    assert m.finish() == [] and m.fail("server_error", "again") == []

    check_grammar(events, m.response, failed=True)
    assert m.response["status"] == "failed"
    assert m.response["error"] == {"code": "server_error", "message": "upstream went away"}
    # items cut off are not announced done, and are not left in_progress in the final object
    done = {e["item"]["id"] for e in events if e["type"] == "response.output_item.done"}
    for item in m.response["output"]:
        assert item["status"] == ("completed" if item["id"] in done else "incomplete")


# ---- regressions found by the properties above (rare under the default example budget) --------

def test_partial_close_tag_before_a_tool_call_stays_in_the_reasoning() -> None:
    answer = Answer("<", "think_unclosed", "", None, (("call_0x", "f", "{}"),), "length", {})
    events, final = stream([_chunk({"content": "<think><"}), *_call_chunks(answer)])
    check_grammar(events, final)
    assert final == non_stream(answer)
    assert [i["type"] for i in final["output"]] == ["reasoning", "function_call"]
    assert final_texts(final)[0] == "<"


def test_failed_response_keeps_streamed_text() -> None:
    m = machine()
    rec = Recorder()
    rec(m.start())
    rec(m.feed(_chunk({"reasoning_content": "hm"})))
    rec(m.feed(_chunk({"content": "Hel"})))
    rec(m.feed(_chunk({"tool_calls": [{"index": 0, "id": "c", "function": {"name": "f", "arguments": '{"a'}}]})))
    rec(m.fail("server_error", "boom"))
    check_grammar(rec.events, m.response, failed=True)
    assert final_texts(m.response) == ("hm", "Hel", [("c", "f", '{"a')])
    assert [i["status"] for i in m.response["output"]] == ["completed", "completed", "incomplete"]


def _call_chunks(answer: Answer) -> list[JSON]:
    return [_chunk({"tool_calls": [{"index": i, "id": cid, "type": "function",
                                    "function": {"name": name, "arguments": args}}]})
            for i, (cid, name, args) in enumerate(answer.calls)] + [_chunk({}, answer.finish_reason)]
