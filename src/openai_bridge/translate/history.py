"""Stored state as input items: what a stored response keeps of its request, and the history that
`previous_response_id` or a conversation stands for.

The store keeps a request's input as items with ids (so that `input_items` lists them and `item_reference`
finds them); the history of a chain is every earlier turn's input items, then its output items, oldest turn
first. Instructions are not history: only the new request's own `instructions` apply, as on OpenAI."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from ..errors import InvalidRequest

type Item = dict[str, object]
type NewId = Callable[[str], str]

# The id prefix of a stored input item without an id of its own, by type (OpenAI's, where it has one).
_PREFIXES = {"message": "msg", "function_call": "fc", "function_call_output": "fco", "reasoning": "rs",
             "custom_tool_call": "ctc", "custom_tool_call_output": "ctco"}


def input_items(value: object, new_id: NewId) -> list[Item]:
    """A request's `input` as the items the store keeps, in the shape OpenAI lists them: a string is one user
    message with an `input_text` part; a message written without `type` gets it, and its string `content`
    becomes one text part (`output_text` for the assistant's, `input_text` for the others'); each item without
    an id gets one. Items are copied, the request's own are left as they are. `item_reference` items stay
    references (see `references`)."""
    if isinstance(value, str):
        return [{"id": new_id("msg"), "type": "message", "role": "user", "content": _text_parts("user", value)}]
    if not isinstance(value, list):
        raise InvalidRequest("'input' must be a string or an array of input items.", param="input")
    items: list[Item] = []
    for n, item in enumerate(value):
        if not isinstance(item, dict):
            raise InvalidRequest(f"'input[{n}]' must be an object.", param=f"input[{n}]")
        kind = item.get("type")
        if kind is None and "role" in item:
            item = {"type": "message", **item}
            kind = "message"
        if not isinstance(item.get("id"), str) or not item["id"]:
            if kind == "item_reference":
                raise InvalidRequest(f"'input[{n}].id' must be a string.", param=f"input[{n}].id")
            item = {"id": new_id(_PREFIXES.get(str(kind), "item")), **item}
        else:
            item = dict(item)
        if kind == "message" and isinstance(item.get("content"), str):
            item["content"] = _text_parts(item.get("role"), item["content"])
        items.append(item)
    return items


def _text_parts(role: object, text: str) -> list[Item]:
    """A message's string content as the one content part OpenAI lists for it (a client reading the items back
    iterates `content` as parts)."""
    if role == "assistant":
        return [{"type": "output_text", "text": text, "annotations": []}]
    return [{"type": "input_text", "text": text}]


def references(items: Sequence[Item]) -> list[tuple[int, str]]:
    """The positions and ids of the `item_reference` items among `items`."""
    return [(n, str(item["id"])) for n, item in enumerate(items) if item.get("type") == "item_reference"]


def resolved(items: Sequence[Item], found: Mapping[str, Item]) -> list[Item]:
    """`items` with each `item_reference` replaced by the item `found` for its id (all must be there)."""
    return [found[str(item["id"])] if item.get("type") == "item_reference" else item for item in items]


def chain_history(turns: Iterable[tuple[Sequence[Item], Sequence[Item]]]) -> list[Item]:
    """The items of earlier turns `(input items, output items)`, oldest first, as one input list."""
    history: list[Item] = []
    for inputs, outputs in turns:
        history += inputs
        history += outputs
    return history
