"""The checks: one small request each (`MAX_TOKENS` tokens, so that a CPU server answers in seconds), one
after another (a llama.cpp server with one slot would queue them anyway), through the bridge's own upstream
client: its authentication, timeouts and error messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import orjson

from ..errors import BridgeError, UpstreamError, UpstreamTimeout, UpstreamUnreachable
from ..upstream.base import NamedEvent, Upstream
from ..wire.chat import ChatRequest
from ..wire.responses import ResponsesRequest
from .native import judge

PROMPT = "Say hello in one short sentence."
MAX_TOKENS = 16
FIELDS = ("max_tokens", "max_completion_tokens")
TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "The current weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
          "additionalProperties": False}


class Unreachable(Exception):
    """The upstream cannot be reached (or does not answer): nothing else is worth trying."""


@dataclass
class Row:
    check: str
    result: str  # yes, no, or a value
    note: str = ""


@dataclass
class Findings:
    """What the suggestions are made from."""

    fields: dict[str, bool] = field(default_factory=dict)  # max-tokens field -> accepted
    reasoning: list[str] = field(default_factory=list)  # where reasoning came: a field name, <think>, </think>
    native: str | None = None  # None: not tried; "no", "well-formed" or "defective"


@dataclass
class Report:
    upstream: str  # the URL, as it may be shown
    model: str | None = None
    model_from: str = ""
    rows: list[Row] = field(default_factory=list)
    found: Findings = field(default_factory=Findings)
    chat_ok: bool = False
    error: str | None = None  # why it is not usable, in the bridge's own words


def _short(text: object, limit: int = 48) -> str:
    s = " ".join(str(text).split())
    return repr(s if len(s) <= limit else s[:limit] + "...")


def _refused(exc: BridgeError) -> str:
    status = exc.upstream_status if isinstance(exc, UpstreamError) and exc.upstream_status else None
    return f"{status}: {exc.message}" if status else exc.message


def _choice(completion: object) -> tuple[dict[str, Any], dict[str, Any]]:
    """The first choice of an upstream's answer and its message (untrusted JSON: empty where missing)."""
    choices = completion.get("choices") if isinstance(completion, dict) else None
    choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
    message = choice.get("message")
    return choice, message if isinstance(message, dict) else {}


def _stop_if_gone(exc: BridgeError) -> None:
    if isinstance(exc, UpstreamUnreachable | UpstreamTimeout):
        raise Unreachable(exc.message) from exc


class Probe:
    def __init__(self, upstream: Upstream, shown_url: str, model: str | None) -> None:
        self.up = upstream
        self.report = Report(shown_url, model, "--model or DEFAULT_MODEL" if model else "")
        self.field = "max_tokens"

    def row(self, check: str, result: str, note: str = "") -> None:
        self.report.rows.append(Row(check, result, note))

    def request(self, **extra: object) -> ChatRequest:
        assert self.report.model is not None
        body = {"model": self.report.model, "messages": [{"role": "user", "content": PROMPT}],
                self.field: MAX_TOKENS, **extra}
        return cast(ChatRequest, body)

    async def run(self) -> Report:
        try:
            await self.models()
            if self.report.model is not None and await self.chat():
                await self.stream()
                await self.tools()
                await self.json_schema()
                self.reasoning()
                await self.native()
        except Unreachable as exc:
            self.report.error = str(exc)
        return self.report

    async def models(self) -> None:
        try:
            listed = await self.up.models()
        except BridgeError as exc:
            _stop_if_gone(exc)
            self.row("models", "no", exc.message)
            ids: list[str] = []
        else:
            data = listed.get("data")
            ids = [str(m.get("id")) for m in data if isinstance(m, dict)] if isinstance(data, list) else []
            self.row("models", str(len(ids)), ", ".join(ids[:3]) + (", ..." if len(ids) > 3 else ""))
        if self.report.model is None:
            if ids:
                self.report.model, self.report.model_from = ids[0], "the first of /models"
            else:
                self.report.error = "No model to try: /models listed none; name one with --model."

    async def chat(self) -> bool:
        """The plain chat answer, once with each max-tokens field; the rest uses the first one accepted."""
        answers: dict[str, str] = {}
        for name in FIELDS:
            self.field = name
            try:
                completion = await self.up.chat(self.request())
            except BridgeError as exc:
                _stop_if_gone(exc)
                answers[name] = _refused(exc)
                self.report.found.fields[name] = False
                continue
            self.report.found.fields[name] = True
            choice, message = _choice(completion)
            self.note_reasoning(message, "message")
            usage: dict[str, Any] = cast(dict[str, Any], completion.get("usage") or {})
            answers[name] = (f"{_short(message.get('content') or '')}, finish_reason "
                             f"{choice.get('finish_reason')}, {usage.get('completion_tokens', '?')} tokens")
        accepted = [n for n in FIELDS if self.report.found.fields[n]]
        if not accepted:
            self.report.error = f"The upstream refused every chat request: {answers['max_tokens']}"
            self.row("chat", "no", answers["max_tokens"])
            return False
        self.field = accepted[0]
        self.report.chat_ok = True
        self.row("chat", "yes", answers[self.field])
        self._fields_row = Row("max-tokens field", "both" if len(accepted) == 2 else f"{accepted[0]} only",
                               "; ".join(f"{n} refused ({answers[n]})" for n in FIELDS if n not in accepted)
                               or "both accepted")
        return True

    async def stream(self) -> None:
        chunks, done = 0, False
        usage: dict[str, Any] | None = None
        try:
            request = self.request(stream=True, stream_options={"include_usage": True})
            stream = await self.up.chat_stream(request)
            try:
                async for batch in stream:
                    for chunk in batch:
                        chunks += 1
                        usage = cast(dict[str, Any], chunk.get("usage")) or usage
                        for choice in chunk.get("choices") or []:
                            self.note_reasoning(cast(dict[str, object], choice.get("delta") or {}), "stream")
                done = stream.done
            finally:
                await stream.aclose()
        except BridgeError as exc:
            _stop_if_gone(exc)
            self.row("chat stream", "no", exc.message if not chunks else f"broke off after {chunks} chunks: "
                     f"{exc.message}")
        else:
            self.row("chat stream", "yes" if done else "no",
                     f"{chunks} chunks, " + ("ended with [DONE]" if done else "stopped without [DONE]"))
        self.row("usage in the stream", "yes" if usage else "no",
                 f"{usage.get('prompt_tokens')} in, {usage.get('completion_tokens')} out" if usage
                 else "no usage chunk with stream_options.include_usage")
        self.report.rows.append(self._fields_row)

    async def tools(self) -> None:
        prompt = [{"role": "user", "content": "What is the weather in Paris? Use the tool."}]
        try:
            request = self.request(messages=prompt, tools=[TOOL], tool_choice="required")
            completion = await self.up.chat(request)
        except BridgeError as exc:
            _stop_if_gone(exc)
            self.row("tools", "no", f"refused ({_refused(exc)})")
            return
        message = _choice(completion)[1]
        calls = message.get("tool_calls") or []
        if calls:
            function = calls[0].get("function") or {}
            self.row("tools", "yes", f"tool_calls: {function.get('name')}({function.get('arguments')})")
        else:
            self.row("tools", "no", f"answered with text: {_short(message.get('content') or '')}")

    async def json_schema(self) -> None:
        prompt = [{"role": "user", "content": "Name the capital of France, as JSON."}]
        fmt = {"type": "json_schema", "json_schema": {"name": "city", "schema": SCHEMA, "strict": True}}
        try:
            completion = await self.up.chat(self.request(messages=prompt, response_format=fmt,
                                                         **{self.field: 2 * MAX_TOKENS}))
        except BridgeError as exc:
            _stop_if_gone(exc)
            self.row("json_schema", "no", f"refused ({_refused(exc)})")
            return
        content = _choice(completion)[1].get("content") or ""
        try:
            value = orjson.loads(content)
        except orjson.JSONDecodeError:
            self.row("json_schema", "no", f"not JSON: {_short(content)}")
            return
        fits = isinstance(value, dict) and set(value) == {"city"} and isinstance(value["city"], str)
        self.row("json_schema", "yes" if fits else "no",
                 ("" if fits else "JSON, but not of the schema: ") + _short(content))

    def note_reasoning(self, message: dict[str, object], where: str) -> None:
        found = self.report.found.reasoning
        for name in ("reasoning_content", "reasoning"):
            if isinstance(message.get(name), str) and message[name] and name not in found:
                found.append(name)
        content = message.get("content")
        if isinstance(content, str) and where == "message":  # a stream's tags span chunks: the message says it
            if content.lstrip().startswith("<think>") and "<think>" not in found:
                found.append("<think>")
            elif "</think>" in content and "<think>" not in content and "</think>" not in found:
                found.append("</think>")

    def reasoning(self) -> None:
        found = self.report.found.reasoning
        notes = {"reasoning_content": "reasoning_content field", "reasoning": "reasoning field",
                 "<think>": "a <think> block in the content",
                 "</think>": "'...</think>' in the content, no opening tag (the template opens it)"}
        self.row("reasoning", ", ".join(found) or "none",
                 "; ".join(notes[f] for f in found) or "no reasoning seen (a model that does not reason)")

    async def native(self) -> None:
        assert self.report.model is not None
        request = {"model": self.report.model, "input": PROMPT, "max_output_tokens": MAX_TOKENS, "stream": True}
        events: list[NamedEvent] = []
        try:
            stream = await self.up.responses_stream(cast(ResponsesRequest, request))
        except BridgeError as exc:
            _stop_if_gone(exc)
            self.report.found.native = "no"
            self.row("native Responses", "no", f"POST /responses: {_refused(exc)}"
                     if not isinstance(exc, UpstreamError) or exc.upstream_status not in (404, 405)
                     else f"POST /responses: {exc.upstream_status} (a chat-only server)")
            return
        broke: str | None = None
        try:
            async for batch in stream:
                events += batch
        except BridgeError as exc:
            broke = exc.message
        finally:
            await stream.aclose()
        self.row("native Responses", "yes", f"{len(events)} stream events")
        defects = judge(events, request, model=self.report.model, said_done=stream.done)
        if broke:
            defects.insert(0, f"broke off: {broke}")
        serious = [d for d in defects if not d.endswith("harmless)")]
        self.report.found.native = "defective" if serious else "well-formed"
        self.row("Responses stream", "defective" if serious else "well-formed", "; ".join(defects))
