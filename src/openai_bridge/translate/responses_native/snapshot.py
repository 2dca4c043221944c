"""The Response object of a native upstream, completed: every setting the request made echoed where the
upstream left it out, and the statuses, usage and error a finished response needs.

The echo comes from the same `envelope` the chat translator builds its Response from, so both paths say
the same about a request. What the upstream sent wins: a field is filled only where it is missing or null.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..responses_via_chat.envelope import envelope
from .items import JSON, Clock, NewId, obj, output_tokens, repair_usage, zero_usage

# Objects whose own fields are completed one by one (`text.verbosity` when the upstream sent only a format).
_NESTED = ("text", "reasoning")
TERMINAL_STATUS = {"response.completed": "completed", "response.incomplete": "incomplete",
                   "response.failed": "failed"}
NO_REASON = "The upstream reported that the response failed, without saying why."
CUT_REPORTED_COMPLETED = "completed although max_output_tokens cut the answer"
# What a Response must carry for the OpenAI SDK to read it (a snapshot without them is a defect).
_REQUIRED = ("id", "object", "created_at", "status", "model", "output", "tools", "tool_choice", "parallel_tool_calls")


def bare(response: Mapping[str, object]) -> bool:
    """The upstream's Response lacks fields a client needs (llama.cpp's snapshots: only id, object, status)."""
    return any(response.get(key) is None for key in _REQUIRED)


def base_envelope(upstream: Mapping[str, object], request: Mapping[str, object], *, model: str, new_id: NewId,
                  clock: Clock, store: bool) -> JSON:
    """The request's echo under the upstream's identity: its `id`, `created_at` and `model` where it sent them,
    else a new id, the clock and `model`."""
    response_id = upstream.get("id")
    created_at = upstream.get("created_at")
    upstream_model = upstream.get("model")
    return dict(envelope(
        request,
        response_id=response_id if isinstance(response_id, str) and response_id else new_id("resp"),
        model=upstream_model if isinstance(upstream_model, str) and upstream_model else model,
        created_at=created_at if isinstance(created_at, int) and not isinstance(created_at, bool) else clock(),
        store=store,
    ))


def complete(upstream: Mapping[str, object], base: Mapping[str, object]) -> JSON:
    """`upstream` with every field of `base` it lacks (or has as null), in the upstream's key order."""
    out = dict(upstream)
    get = out.get
    for key, value in base.items():
        current = get(key)
        if current is None:
            out[key] = value
        elif type(current) is dict and key in _NESTED and isinstance(value, dict):
            missing = {k: v for k, v in value.items() if k not in current}
            if missing:
                out[key] = {**current, **missing}
    return out


def max_output_tokens(request: Mapping[str, object]) -> int | None:
    value = request.get("max_output_tokens")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def is_cut(usage: object, limit: int | None) -> bool:
    """The cut rule: an answer whose output token count reached the request's `max_output_tokens` was cut by
    it, whatever the upstream's status says (llama.cpp says `completed`). An answer that ended by itself on
    exactly the last allowed token is counted as cut too: the two cannot be told apart from the usage, and
    calling a whole answer incomplete costs a client at most a needless continuation, while calling a cut
    one complete loses text silently."""
    count = output_tokens(usage)
    return limit is not None and count is not None and count >= limit


def finish(response: JSON, status: str, *, limit: int | None, clock: Clock) -> str:
    """Set the final status, usage, error and times of a finished `response`; returns the status, which the
    cut rule may have turned from `completed` to `incomplete`."""
    usage = repair_usage(response.get("usage"))
    cut = is_cut(usage, limit)
    if status == "completed" and cut:
        status = "incomplete"
        response["completed_at"] = None
    if status == "incomplete" and cut and not response.get("incomplete_details"):
        response["incomplete_details"] = {"reason": "max_output_tokens"}
    response["status"] = status
    if status == "failed":
        error = obj(response.get("error"))
        code, message = error.get("code"), error.get("message")
        response["error"] = {**error, "code": code if isinstance(code, str) and code else "upstream_error",
                             "message": message if isinstance(message, str) and message else NO_REASON}
        response["usage"] = usage
    else:
        response["usage"] = usage or zero_usage()
    if status == "completed" and response.get("completed_at") is None:
        response["completed_at"] = clock()
    return status
