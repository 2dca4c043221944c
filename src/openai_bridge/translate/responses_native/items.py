"""Output items, their parts and usage as strict clients want them: every field a type requires present.

A native upstream's objects are the upstream's JSON, not trusted to have their type: each function returns
a repaired copy and leaves its argument alone. A field already present is kept as it came, so a well-formed
object comes back equal to itself (and in the same key order).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

JSON = dict[str, object]
NewId = Callable[[str], str]
Clock = Callable[[], int]

# The id prefixes OpenAI uses, for items an upstream left without an id (llama.cpp's function calls).
_PREFIX = {"message": "msg", "reasoning": "rs", "function_call": "fc", "custom_tool_call": "ctc"}
# The text field of each part type.
TEXT_FIELD = {"output_text": "text", "refusal": "refusal", "reasoning_text": "text", "summary_text": "text"}


def id_prefix(kind: object) -> str:
    return _PREFIX.get(kind, "item") if isinstance(kind, str) else "item"


def obj(value: object) -> Mapping[str, object]:
    """`value` if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def repair_part(part: Mapping[str, object], kind: str = "output_text") -> JSON:
    """A content part with its text field (and, for `output_text`, `annotations` and `logprobs`) present."""
    out = dict(part)
    if not isinstance(out.get("type"), str):
        out["type"] = kind
    field = TEXT_FIELD.get(str(out["type"]))
    if field is not None and not isinstance(out.get(field), str):
        out[field] = ""
    if out["type"] == "output_text":
        if not isinstance(out.get("annotations"), list):
            out["annotations"] = []
        if not isinstance(out.get("logprobs"), list):
            out["logprobs"] = []
    return out


def part_text(part: object) -> str | None:
    """The text of a part (its `refusal` for a refusal), if it has one."""
    p = obj(part)
    value = p.get(TEXT_FIELD.get(str(p.get("type")), "text"))
    return value if isinstance(value, str) else None


def repair_item(item: Mapping[str, object], item_id: str, status: str) -> JSON:
    """`item` with `item_id`, a status (`status` where it has none) and the fields its type requires."""
    out = dict(item)
    out["id"] = item_id
    if not isinstance(out.get("status"), str):
        out["status"] = status
    kind = out.get("type")
    if kind == "message":
        if not isinstance(out.get("role"), str):
            out["role"] = "assistant"
        out["content"] = _parts(out.get("content"), "output_text")
    elif kind == "reasoning":
        out["summary"] = _parts(out.get("summary"), "summary_text")
        if "content" in out:
            out["content"] = _parts(out.get("content"), "reasoning_text")
    elif kind == "function_call":
        for field in ("arguments", "name", "call_id"):
            if not isinstance(out.get(field), str):
                out[field] = ""
    elif kind == "custom_tool_call":
        for field in ("input", "name", "call_id"):
            if not isinstance(out.get(field), str):
                out[field] = ""
    return out


def _parts(parts: object, kind: str) -> list[object]:
    if not isinstance(parts, list):
        return []
    return [repair_part(p, kind) if isinstance(p, dict) else p for p in parts]


def repair_usage(usage: object) -> JSON | None:
    """Usage with its counts and both detail objects present (zeros where the upstream said nothing);
    None when the upstream sent none."""
    if not isinstance(usage, dict):
        return None
    out: JSON = dict(usage)
    for field in ("input_tokens", "output_tokens"):
        if not _is_int(out.get(field)):
            out[field] = 0
    if not _is_int(out.get("total_tokens")):
        out["total_tokens"] = _int(out["input_tokens"]) + _int(out["output_tokens"])
    out["input_tokens_details"] = _with_zeros(out.get("input_tokens_details"), ("cached_tokens", "cache_write_tokens"))
    out["output_tokens_details"] = _with_zeros(out.get("output_tokens_details"), ("reasoning_tokens",))
    return out


def zero_usage() -> JSON:
    """What a finished response says when the upstream counted nothing (strict clients want an object)."""
    usage = repair_usage({})
    assert usage is not None
    return usage


def output_tokens(usage: object) -> int | None:
    value = obj(usage).get("output_tokens")
    return value if _is_int(value) and isinstance(value, int) else None


def _with_zeros(details: object, fields: tuple[str, ...]) -> JSON:
    out = dict(obj(details))
    for field in fields:
        if not _is_int(out.get(field)):
            out[field] = 0
    return out


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
