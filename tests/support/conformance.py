"""What OpenAI's API reference promises about a Response and its stream events, checked on every one the test
suite sees: a field that has a type and a default is present and never null; a nullable field is present.

Clients validate strictly (the Agents SDK, Codex, the AI SDK): a missing `strict` or a `null` temperature
breaks them. The rules are written from the reference (platform.openai.com/docs/api-reference/responses), not
from the bridge's code. `problems(...)` lists what is wrong, with the path; `Recorder` is an ASGI middleware
that checks every answer of `/responses` a running bridge sends (JSON, or each event of an SSE stream).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

NUMBER = (int, float)
# Response fields with a type and a default: present, of that type, never null.
RESPONSE_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "id": str, "object": str, "created_at": NUMBER, "status": str, "model": str, "output": list,
    "parallel_tool_calls": bool, "tool_choice": (str, dict), "tools": list, "temperature": NUMBER, "top_p": NUMBER,
    "presence_penalty": NUMBER, "frequency_penalty": NUMBER, "top_logprobs": int, "metadata": dict, "text": dict,
    "reasoning": dict, "store": bool, "background": bool, "service_tier": str, "truncation": str,
}
# Nullable fields: present (null allowed).
RESPONSE_NULLABLE = ("error", "incomplete_details", "instructions", "max_output_tokens", "max_tool_calls",
                     "previous_response_id", "conversation", "usage", "user", "safety_identifier",
                     "prompt_cache_key", "completed_at")
ITEM_REQUIRED: dict[str, dict[str, type | tuple[type, ...]]] = {
    "message": {"id": str, "role": str, "status": str, "content": list},
    "reasoning": {"id": str, "summary": list},
    "function_call": {"call_id": str, "name": str, "arguments": str, "status": str},
    "custom_tool_call": {"call_id": str, "name": str, "input": str},
}
PART_REQUIRED: dict[str, dict[str, type | tuple[type, ...]]] = {
    "output_text": {"text": str, "annotations": list, "logprobs": list},
    "refusal": {"refusal": str},
    "reasoning_text": {"text": str},
    "summary_text": {"text": str},
}
EVENT_REQUIRED: dict[str, dict[str, type | tuple[type, ...]]] = {
    "response.output_item.added": {"output_index": int, "item": dict},
    "response.output_item.done": {"output_index": int, "item": dict},
    "response.content_part.added": {"item_id": str, "output_index": int, "content_index": int, "part": dict},
    "response.content_part.done": {"item_id": str, "output_index": int, "content_index": int, "part": dict},
    "response.output_text.delta": {"item_id": str, "output_index": int, "content_index": int, "delta": str,
                                   "logprobs": list},
    "response.output_text.done": {"item_id": str, "output_index": int, "content_index": int, "text": str},
    "response.refusal.delta": {"item_id": str, "output_index": int, "content_index": int, "delta": str},
    "response.refusal.done": {"item_id": str, "output_index": int, "content_index": int, "refusal": str},
    "response.reasoning_text.delta": {"item_id": str, "output_index": int, "content_index": int, "delta": str},
    "response.reasoning_text.done": {"item_id": str, "output_index": int, "content_index": int, "text": str},
    "response.reasoning_summary_part.added": {"item_id": str, "output_index": int, "summary_index": int,
                                              "part": dict},
    "response.reasoning_summary_part.done": {"item_id": str, "output_index": int, "summary_index": int,
                                             "part": dict},
    "response.reasoning_summary_text.delta": {"item_id": str, "output_index": int, "summary_index": int,
                                              "delta": str},
    "response.reasoning_summary_text.done": {"item_id": str, "output_index": int, "summary_index": int,
                                             "text": str},
    "response.function_call_arguments.delta": {"item_id": str, "output_index": int, "delta": str},
    "response.function_call_arguments.done": {"item_id": str, "output_index": int, "arguments": str},
    "response.custom_tool_call_input.delta": {"item_id": str, "output_index": int, "delta": str},
    "response.custom_tool_call_input.done": {"item_id": str, "output_index": int, "input": str},
}


def _required(obj: dict[str, Any], fields: dict[str, type | tuple[type, ...]], where: str) -> list[str]:
    out = []
    for name, kind in fields.items():
        if name not in obj:
            out.append(f"{where}.{name} is missing")
        elif obj[name] is None:
            out.append(f"{where}.{name} is null")
        elif not isinstance(obj[name], kind) or (kind is not bool and isinstance(obj[name], bool)
                                                and not (isinstance(kind, tuple) and bool in kind)):
            out.append(f"{where}.{name} is {type(obj[name]).__name__}, not {kind}")
    return out


def response_problems(r: dict[str, Any], where: str = "response") -> list[str]:
    out = _required(r, RESPONSE_REQUIRED, where)
    out += [f"{where}.{name} is missing" for name in RESPONSE_NULLABLE if name not in r]
    if isinstance(r.get("text"), dict):
        out += _required(r["text"], {"format": dict, "verbosity": str}, f"{where}.text")
    if isinstance(r.get("reasoning"), dict):
        out += [f"{where}.reasoning.{n} is missing" for n in ("effort", "summary") if n not in r["reasoning"]]
    if r.get("status") in ("completed", "incomplete"):
        usage = r.get("usage")
        if not isinstance(usage, dict):
            out.append(f"{where}.usage is {usage!r} in a {r.get('status')} response")
        else:
            out += _required(usage, {"input_tokens": int, "output_tokens": int, "total_tokens": int,
                                     "input_tokens_details": dict, "output_tokens_details": dict}, f"{where}.usage")
    for i, tool in enumerate(r.get("tools") or []):
        out += tool_problems(tool, f"{where}.tools[{i}]")
    for i, item in enumerate(r.get("output") or []):
        out += item_problems(item, f"{where}.output[{i}]")
    return out


def tool_problems(tool: dict[str, Any], where: str) -> list[str]:
    if tool.get("type") == "function":
        return _required(tool, {"name": str, "strict": bool}, where)
    if tool.get("type") == "namespace":
        return [p for i, t in enumerate(tool.get("tools") or []) for p in tool_problems(t, f"{where}.tools[{i}]")]
    return []


def item_problems(item: dict[str, Any], where: str) -> list[str]:
    kind = item.get("type")
    out = _required(item, ITEM_REQUIRED.get(kind, {}), f"{where}({kind})")
    for key in ("content", "summary"):
        for i, part in enumerate(item.get(key) or []):
            out += _required(part, PART_REQUIRED.get(part.get("type"), {}), f"{where}.{key}[{i}]")
    return out


def event_problems(event: dict[str, Any]) -> list[str]:
    kind = event.get("type")
    where = f"event {event.get('sequence_number')} ({kind})"
    out = _required(event, {"type": str, "sequence_number": int}, where)
    out += _required(event, EVENT_REQUIRED.get(kind, {}), where)
    if isinstance(event.get("response"), dict):
        out += response_problems(event["response"], f"{where}.response")
    if isinstance(event.get("item"), dict):
        out += item_problems(event["item"], f"{where}.item")
    if isinstance(event.get("part"), dict):
        out += _required(event["part"], PART_REQUIRED.get(event["part"].get("type"), {}), f"{where}.part")
    return out


def body_problems(content_type: str, body: bytes) -> list[str]:
    """Problems of one answer of `POST /responses`: a Response (JSON) or an event stream."""
    if content_type.startswith("application/json"):
        data = orjson.loads(body)
        return [] if "error" in data else response_problems(data)
    out = []
    for line in body.split(b"\n"):
        if line.startswith(b"data: "):
            out += event_problems(orjson.loads(line[6:]))
    return out


class Recorder:
    """ASGI middleware: checks every `/responses` answer the app sends; `problems` collects what is wrong."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.checked = 0

    def wrap(self, app: ASGIApp) -> ASGIApp:
        async def checking(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].endswith("/responses"):
                await app(scope, receive, send)
                return
            status, content_type, body = 0, "", bytearray()

            async def watch(message: Message) -> None:
                nonlocal status, content_type
                if message["type"] == "http.response.start":
                    status = message["status"]
                    content_type = dict(message.get("headers", [])).get(b"content-type", b"").decode()
                elif message["type"] == "http.response.body":
                    body.extend(message.get("body", b""))
                await send(message)

            await app(scope, receive, watch)
            if status == 200:
                self.checked += 1
                self.problems += body_problems(content_type, bytes(body))

        return checking
