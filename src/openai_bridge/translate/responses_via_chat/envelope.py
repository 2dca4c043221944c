"""The Response object's envelope: every request setting echoed with its effective value. Pure.

Clients validate the object strictly (the Agents SDK, Codex, the AI SDK): each field is present, and
never null where the API has a default.
"""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]


def envelope(request: JSON, *, response_id: str, model: str, created_at: int) -> JSON:
    """A Response object with no output yet, status `in_progress`."""
    text = obj(request.get("text"))
    reasoning = obj(request.get("reasoning"))
    conversation = request.get("conversation")
    if isinstance(conversation, str):
        conversation = {"id": conversation}
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": "in_progress",
        "background": bool(request.get("background") or False),
        "completed_at": None,
        "conversation": conversation,
        "error": None,
        "incomplete_details": None,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "max_tool_calls": request.get("max_tool_calls"),
        "metadata": request.get("metadata") or {},
        "model": model,
        "output": [],
        "parallel_tool_calls": _default(request.get("parallel_tool_calls"), True),
        "previous_response_id": request.get("previous_response_id"),
        "prompt_cache_key": request.get("prompt_cache_key"),
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "safety_identifier": request.get("safety_identifier"),
        "service_tier": request.get("service_tier") or "default",
        # Nothing is stored yet: the effective value is false whatever the client asked.
        "store": False,
        "temperature": _default(request.get("temperature"), 1.0),
        "text": {"format": text.get("format") or {"type": "text"}, "verbosity": text.get("verbosity") or "medium"},
        "tool_choice": _default(request.get("tool_choice"), "auto"),
        "tools": request.get("tools") or [],
        "top_logprobs": _default(request.get("top_logprobs"), 0),
        "top_p": _default(request.get("top_p"), 1.0),
        "presence_penalty": 0.0,
        "frequency_penalty": 0.0,
        "truncation": request.get("truncation") or "disabled",
        "usage": None,
        "user": request.get("user"),
    }


def usage_up(usage: Any) -> JSON:
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


def obj(value: Any) -> JSON:
    """`value` if it is a JSON object, else an empty one: for reading optional nested fields."""
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _default(value: Any, default: Any) -> Any:
    return default if value is None else value
