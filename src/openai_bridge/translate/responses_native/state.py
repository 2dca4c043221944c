"""The stream repair machine's record of the items and parts it has seen, and how an event is placed on them."""

from __future__ import annotations

from .items import JSON, TEXT_FIELD

# What an announced item carries only once it is final: the stream sends it as deltas and parts.
FINAL_FIELDS = ("status", "content", "summary", "arguments", "input")
PART_TYPE = {"message": "output_text", "reasoning": "reasoning_text"}
# A run of deltas to one place: (type, item_id and content_index as the upstream named them, the item, the
# part's index and the part, or None and None for a call's arguments).
type Streak = tuple[object, object, object, Item, int | None, Part | None]
FAMILY_OF_PART = {"output_text": "response.output_text", "refusal": "response.refusal",
                  "reasoning_text": "response.reasoning_text"}


def placed(event: JSON, it: Item, content_index: int | None, **extra: object) -> JSON:
    """`event` on item `it` (and its part `content_index`): the ids and indexes the stream uses."""
    event["item_id"] = it.id
    event["output_index"] = it.index
    if content_index is not None:
        event["content_index"] = content_index
    event.update(extra)
    return event


def part_at(it: Item, index: object, part_type: str | None) -> tuple[int, Part] | None:
    """The part an event is about: at its `content_index` when that is one of the item's parts, else the
    item's last part (of `part_type`, when given) not yet closed."""
    parts = it.parts
    if isinstance(index, int) and 0 <= index < len(parts):
        part = parts[index]
        if part_type is None or part.part.get("type") == part_type:
            return (index, part) if not part.closed else None
    if parts:
        part = parts[-1]
        if not part.closed and (part_type is None or part.part.get("type") == part_type):
            return len(parts) - 1, part
    return None


class Item:
    """An output item as the stream has shown it so far."""

    __slots__ = ("index", "id", "kind", "added", "parts", "args", "args_done", "summaries", "final")

    def __init__(self, index: int, item_id: str, kind: str, added: JSON) -> None:
        self.index = index
        self.id = item_id
        self.kind = kind
        self.added = added  # as announced (also the event's item: never changed)
        self.parts: list[Part] = []
        self.args: list[str] = []
        self.args_done: str | None = None
        self.summaries = 0
        self.final: JSON | None = None  # as closed

    def joined(self) -> str:
        return "".join(self.args)


class Part:
    """A content part of an item (a message's text or refusal, a reasoning text)."""

    __slots__ = ("part", "texts", "done", "announced", "closed")

    def __init__(self, part: JSON, *, announced: bool) -> None:
        self.part = part  # as added
        self.texts: list[str] = []
        self.done: str | None = None  # the `.done` event's text, once sent
        self.announced = announced  # a `content_part.added` went out, so a `content_part.done` must too
        self.closed = False

    def value(self) -> str:
        return self.done if self.done is not None else "".join(self.texts)

    def final(self) -> JSON:
        return {**self.part, TEXT_FIELD.get(str(self.part.get("type")), "text"): self.value()}
