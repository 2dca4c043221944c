"""What the SQL backends (SQLite, Postgres) share: how a response is kept (Postgres: split into rows; SQLite:
one JSON record) and put together again, and the bounds of a list page in item positions."""

from __future__ import annotations

from collections.abc import Callable

import orjson

from .base import JSONObject, PageRequest, StoredResponse

# Kinds of item rows: a response's input and output, a conversation's items.
INPUT, OUTPUT, CONVERSATION = "i", "o", "c"


def response_rows(response: StoredResponse) -> tuple[bytes, list[tuple[str, int, str, bytes]]]:
    """The response object without its output (kept once, as item rows), and the item rows
    `(kind, position, item id, item JSON)`: input, then output."""
    body = response.response
    output = body.get("output")
    if isinstance(output, list):
        body = {**body, "output": []}  # the key keeps its place; `joined` puts the items back in it
    rows = [(INPUT, n, str(item["id"]), orjson.dumps(item)) for n, item in enumerate(response.input_items)]
    rows += [(OUTPUT, n, str(item.get("id") or ""), orjson.dumps(item)) for n, item in enumerate(response.output_items)]
    return orjson.dumps(body), rows


def joined(response_id: str, body: bytes, previous_id: str | None, items: list[tuple[str, bytes]]) -> StoredResponse:
    """A response again, from its row and its item rows `(kind, item JSON)` in position order."""
    response: JSONObject = orjson.loads(body)
    inputs = [orjson.loads(data) for kind, data in items if kind == INPUT]
    if isinstance(response.get("output"), list):
        response["output"] = [orjson.loads(data) for kind, data in items if kind == OUTPUT]
    return StoredResponse(response_id, response, inputs, previous_id)


def record(response: StoredResponse) -> str:
    """A response as one JSON text, `{"response": ..., "input_items": [...]}`: its output items stay where they
    are, in the response object (`$.response.output`), its input items are at `$.input_items`."""
    return orjson.dumps({"response": response.response, "input_items": response.input_items}).decode()


def from_record(response_id: str, previous_id: str | None, text: str | bytes) -> StoredResponse:
    data = orjson.loads(text)
    return StoredResponse(response_id, data["response"], data["input_items"], previous_id)


def bounds(page: PageRequest, position: Callable[[str], int | None]) -> tuple[int | None, int | None] | str:
    """The positions the page lies strictly between (None: unbounded), given the position of a cursor id in
    the list; or the name of a cursor that is not in the list."""
    low: int | None = None
    high: int | None = None
    for cursor, name in ((page.after, "after"), (page.before, "before")):
        if cursor is None:
            continue
        pos = position(cursor)
        if pos is None:
            return name
        if (name == "after") == (page.order == "asc"):
            low = pos if low is None else max(low, pos)
        else:
            high = pos if high is None else min(high, pos)
    return low, high
