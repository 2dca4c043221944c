"""The Response object's envelope: every request setting echoed with its effective value. Pure.

Clients validate the object strictly (the Agents SDK, Codex, the AI SDK): each field is present, and
never null where the API has a default.

The request is the client's, read as untrusted JSON: each echoed value is checked for the type the
Response declares, and one of another type echoes the default. `to_chat_request` has refused most such
values already; the ones it does not check (`max_tool_calls`, `truncation`, `reasoning.summary`,
`previous_response_id`, `conversation`, `parallel_tool_calls` without tools) would otherwise make a
Response the SDK rejects. Objects (tools, tool_choice, text.format, metadata) are echoed as the client
sent them: their contents are the client's, checked by `to_chat_request` where the bridge uses them.
"""

from __future__ import annotations

from collections.abc import Mapping

from ...wire.responses import (
    ConversationParam,
    ReasoningSummaryMode,
    Response,
    ResponseInputItem,
    ResponseUsage,
    TextFormat,
    Tool,
    ToolChoice,
    ToolChoiceMode,
    Verbosity,
)

_SUMMARY_MODES: dict[str, ReasoningSummaryMode] = {"auto": "auto", "concise": "concise", "detailed": "detailed"}
_VERBOSITIES: dict[str, Verbosity] = {"low": "low", "medium": "medium", "high": "high"}
_TOOL_CHOICE_MODES: dict[str, ToolChoiceMode] = {"auto": "auto", "none": "none", "required": "required"}


def envelope(
    request: Mapping[str, object], *, response_id: str, model: str, created_at: int, store: bool = False
) -> Response:
    """A Response object with no output yet, status `in_progress`.

    `store` is the effective value, decided by the caller (whether the response is kept), not the client's ask.
    """
    text = obj(request.get("text"))
    reasoning = obj(request.get("reasoning"))
    service_tier = request.get("service_tier")
    tools = request.get("tools")
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": "in_progress",
        "background": bool(request.get("background") or False),
        "completed_at": None,
        "conversation": _conversation(request.get("conversation")),
        "error": None,
        "incomplete_details": None,
        "instructions": _instructions(request.get("instructions")),
        "max_output_tokens": _int_or_none(request.get("max_output_tokens")),
        "max_tool_calls": _int_or_none(request.get("max_tool_calls")),
        "metadata": _metadata(request.get("metadata")),
        "model": model,
        "output": [],
        "parallel_tool_calls": _bool(request.get("parallel_tool_calls"), True),
        "previous_response_id": _str_or_none(request.get("previous_response_id")),
        "prompt_cache_key": _str_or_none(request.get("prompt_cache_key")),
        "reasoning": {"effort": _str_or_none(reasoning.get("effort")), "summary": _summary(reasoning.get("summary"))},
        "safety_identifier": _str_or_none(request.get("safety_identifier")),
        "service_tier": service_tier if isinstance(service_tier, str) and service_tier else "default",
        "store": store,
        "temperature": _number(request.get("temperature"), 1.0),
        "text": {"format": _text_format(text.get("format")), "verbosity": _verbosity(text.get("verbosity"))},
        "tool_choice": _tool_choice(request.get("tool_choice")),
        "tools": [_tool(t) for t in tools if isinstance(t, dict)] if isinstance(tools, list) else [],
        "top_logprobs": _int(request.get("top_logprobs")),
        "top_p": _number(request.get("top_p"), 1.0),
        "presence_penalty": _number(request.get("presence_penalty"), 0.0),
        "frequency_penalty": _number(request.get("frequency_penalty"), 0.0),
        "truncation": "auto" if request.get("truncation") == "auto" else "disabled",
        "usage": None,
        "user": _str_or_none(request.get("user")),
    }


def usage_up(usage: object) -> ResponseUsage:
    """Chat usage -> Responses usage; detail objects are always objects."""
    u = obj(usage)
    prompt = _int(u.get("prompt_tokens"))
    completion = _int(u.get("completion_tokens"))
    prompt_details = obj(u.get("prompt_tokens_details"))
    completion_details = obj(u.get("completion_tokens_details"))
    total = u.get("total_tokens")
    return {
        "input_tokens": prompt,
        "input_tokens_details": {
            "cached_tokens": _int(prompt_details.get("cached_tokens")),
            "cache_write_tokens": _int(prompt_details.get("cache_write_tokens")),
        },
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": _int(completion_details.get("reasoning_tokens"))},
        "total_tokens": total if isinstance(total, int) else prompt + completion,
    }


def obj(value: object) -> Mapping[str, object]:
    """`value` if it is a JSON object, else an empty one: for reading optional nested fields."""
    return value if isinstance(value, dict) else {}


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) else None


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: object, default: float) -> float:
    return value if isinstance(value, int | float) else default


def _bool(value: object, default: bool) -> bool:
    return value if isinstance(value, bool) else default


def _conversation(value: object) -> ConversationParam | None:
    if isinstance(value, str):
        return {"id": value}
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return {"id": value["id"]}
    return None


def _instructions(value: object) -> str | list[ResponseInputItem] | None:
    return value if isinstance(value, str | list) else None


def _metadata(value: object) -> dict[str, str]:
    return value if isinstance(value, dict) and value else {}


def _text_format(value: object) -> TextFormat | dict[str, object]:
    return value if isinstance(value, dict) and value else {"type": "text"}


def _tool(value: dict[str, object]) -> Tool:
    """A tool as OpenAI echoes it: a function tool's `strict` is a boolean, true unless the client said false
    (the Responses API's default), also for the functions of a namespace. Other tools are echoed as sent."""
    kind = value.get("type")
    if kind == "function":
        return {**value, "strict": value.get("strict") is not False}
    inner = value.get("tools")
    if kind == "namespace" and isinstance(inner, list):
        return {**value, "tools": [_tool(t) for t in inner if isinstance(t, dict)]}
    return value


def _tool_choice(value: object) -> ToolChoice:
    if isinstance(value, dict):
        return value
    return _TOOL_CHOICE_MODES.get(value, "auto") if isinstance(value, str) else "auto"


def _summary(value: object) -> ReasoningSummaryMode | None:
    return _SUMMARY_MODES.get(value) if isinstance(value, str) else None


def _verbosity(value: object) -> Verbosity:
    return _VERBOSITIES.get(value, "medium") if isinstance(value, str) else "medium"
