"""Stored state as input items: what a stored response keeps of its request, and the history that
`previous_response_id` or a conversation stands for.

The store keeps a request's input as items with ids (so that `input_items` lists them and `item_reference`
finds them); the history of a chain is every earlier turn's input items, then its output items, oldest turn
first. Instructions are not history: only the new request's own `instructions` apply, as on OpenAI."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import orjson

from ..errors import InvalidRequest

type Item = dict[str, object]
type NewId = Callable[[str], str]

# The id prefix of a stored input item without an id of its own, by type (OpenAI's, where it has one).
_PREFIXES = {"message": "msg", "function_call": "fc", "function_call_output": "fco", "reasoning": "rs",
             "custom_tool_call": "ctc", "custom_tool_call_output": "ctco"}


def input_items(value: object, new_id: NewId, param: str = "input") -> list[Item]:
    """A request's `input` (or the `items` of a conversation, named by `param` in errors) as the items the
    store keeps, in the shape OpenAI lists them: a string is one user message with an `input_text` part; a
    message written without `type` gets it, its string content becomes one text part (`output_text` from the
    assistant, `input_text` from anyone else) and it is `completed` unless it says otherwise; each item without
    an id gets one. Items are copied, the request's own are left as they are. `item_reference` items stay
    references (see `references`)."""
    if isinstance(value, str):
        return [{"id": new_id("msg"), "type": "message", "role": "user",
                 "content": [{"type": "input_text", "text": value}], "status": "completed"}]
    if not isinstance(value, list):
        raise InvalidRequest(f"'{param}' must be a string or an array of input items.", param=param)
    items: list[Item] = []
    for n, item in enumerate(value):
        if not isinstance(item, dict):
            raise InvalidRequest(f"'{param}[{n}]' must be an object.", param=f"{param}[{n}]")
        kind = item.get("type")
        if kind is None and "role" in item:
            item = {"type": "message", **item}
            kind = "message"
        if not isinstance(item.get("id"), str) or not item["id"]:
            if kind == "item_reference":
                raise InvalidRequest(f"'{param}[{n}].id' must be a string.", param=f"{param}[{n}].id")
            item = {"id": new_id(_PREFIXES.get(str(kind), "item")), **item}
        else:
            item = dict(item)
        if kind == "message":
            _as_listed(item)
        items.append(item)
    return items


def _as_listed(message: Item) -> None:
    """A message as OpenAI lists it back: its content an array of parts, its status set."""
    if isinstance(message.get("content"), str):
        if message.get("role") == "assistant":
            message["content"] = [{"type": "output_text", "text": message["content"], "annotations": []}]
        else:
            message["content"] = [{"type": "input_text", "text": message["content"]}]
    message.setdefault("status", "completed")


def duplicates(items: Sequence[Item], known: Iterable[str] = ()) -> str | None:
    """The first id among `items` that another of them, or `known` (the ids already there), carries."""
    seen = set(known)
    for item in items:
        item_id = str(item.get("id"))
        if item_id in seen:
            return item_id
        seen.add(item_id)
    return None


def references(items: Sequence[Item]) -> list[tuple[int, str]]:
    """The positions and ids of the `item_reference` items among `items`."""
    return [(n, str(item["id"])) for n, item in enumerate(items) if item.get("type") == "item_reference"]


def resolved(items: Sequence[Item], found: Mapping[str, Item]) -> list[Item]:
    """`items` with each `item_reference` replaced by the item `found` for its id (all must be there)."""
    return [found[str(item["id"])] if item.get("type") == "item_reference" else item for item in items]


def chain_history(turns: Iterable[tuple[Sequence[Item], Sequence[Item]]]) -> list[list[Item]]:
    """The items of earlier turns `(input items, output items)`, oldest first: one list per turn."""
    return [[*inputs, *outputs] for inputs, outputs in turns]


def conversation_turns(items: Sequence[Item]) -> list[list[Item]]:
    """A conversation's items, oldest first, in turns: each user message starts one (so that a tool call and
    its output, which follow it, stay together)."""
    turns: list[list[Item]] = []
    for item in items:
        if not turns or item.get("type") == "message" and item.get("role") == "user":
            turns.append([])
        turns[-1].append(item)
    return turns


def approx_tokens(value: object) -> int:
    """A generous estimate of the tokens `value` takes as JSON (a token is 3 to 4 bytes of English or code;
    3 errs on the side of dropping a turn too many rather than overflowing the context)."""
    return len(orjson.dumps(value)) // 3 + 1


def fitting(turns: Sequence[list[Item]], room: int) -> list[list[Item]]:
    """The newest of `turns` whose estimated size fits in `room` tokens, oldest dropped first (all of them
    when not even the newest fits)."""
    kept = 0
    for n in range(len(turns) - 1, -1, -1):
        kept += approx_tokens(turns[n])
        if kept > room:
            return list(turns[n + 1:])
    return list(turns)
