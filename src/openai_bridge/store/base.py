"""The store seam: what the bridge keeps between requests, scoped by tenant.

Two Protocols, one for each kind of state:

- `Records`: durable objects, kept until deleted or older than the retention (`expire`): stored responses
  (the response object, its input items, and through it its instructions and output items), items by id
  (for `item_reference`), the chain behind a `previous_response_id`, conversations and their items.
- `Live`: what a background run shares while it runs: its recorded stream events (append; read from a
  sequence number on, waiting for more, so a dropped stream resumes at `starting_after=N`, also on another
  worker or replica) and its cancel signal.

`Store` is both. Each backend (memory, SQLite, Postgres) is a whole `Store`; Redis is a `Live` only, put
beside a `Records` backend by `WithLive` (store/composite.py) when replicas must share live state.

Tenants: every method takes the tenant that owns (or asks for) the object. Another tenant's object is
indistinguishable from a missing one: the same `None`/`False`, never an error that would confirm the id
exists. A tenant is a hash (`tenant_of`), never a key: no secret is ever written to a store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from ..errors import InvalidRequest

type JSONObject = dict[str, object]
type Order = Literal["asc", "desc"]

# The longest `previous_response_id` chain followed; a longer one (or a cycle) is cut at its oldest turns.
MAX_CHAIN = 1000


def tenant_of(secret: str) -> str:
    """The tenant that a client's key (or bearer token) stands for: a hash, so the key itself is never stored."""
    return hashlib.sha256(b"openai-bridge tenant\0" + secret.encode()).hexdigest()


class IdTaken(Exception):  # noqa: N818 - reads as a sentence: raise IdTaken
    """A put of an id that another tenant owns (ids are random: a clash is a bug or an attack, never a
    reason to overwrite the other tenant's object)."""


@dataclass(frozen=True, slots=True)
class StoredResponse:
    id: str
    # The Response object as the client got it: status, instructions, output, usage, ... (no secret in it).
    response: JSONObject
    # The request's input items, each with a string `id` (the service gives ids to those sent without one).
    input_items: list[JSONObject] = field(default_factory=list)
    previous_response_id: str | None = None

    @property
    def output_items(self) -> list[JSONObject]:
        output = self.response.get("output")
        return [i for i in output if isinstance(i, dict)] if isinstance(output, list) else []

    @property
    def instructions(self) -> object:
        return self.response.get("instructions")


@dataclass(frozen=True, slots=True)
class Turn:
    """One earlier turn of a chain, as history: what went in and what came out."""

    response_id: str
    previous_response_id: str | None  # not None on the oldest turn: its predecessor was deleted or expired
    instructions: object
    input_items: list[JSONObject]
    output_items: list[JSONObject]


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    created_at: int
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PageRequest:
    """A list request's cursor, as the API takes it: `after`/`before` are item ids of the same list."""

    limit: int = 20
    order: Order = "desc"
    after: str | None = None
    before: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    data: list[JSONObject]
    first_id: str | None
    last_id: str | None
    has_more: bool


@dataclass(frozen=True, slots=True)
class Events:
    """Recorded stream events after a sequence number, and whether the stream has ended (no more will come)."""

    events: list[tuple[int, bytes]]
    finished: bool


class Records(Protocol):
    async def put_response(self, tenant: str, response: StoredResponse) -> None:
        """Insert or replace (a background run puts its response again as its status changes). Committed
        when it returns. Raises `IdTaken` when another tenant owns the id."""

    async def get_response(self, tenant: str, response_id: str) -> StoredResponse | None: ...

    async def delete_response(self, tenant: str, response_id: str) -> bool:
        """With its items and its run's events; False when there was none (for this tenant)."""

    async def list_input_items(self, tenant: str, response_id: str, page: PageRequest) -> Page | None:
        """None: no such response. Raises `InvalidRequest` for a cursor that is not in the list."""

    async def get_item(self, tenant: str, item_id: str) -> JSONObject | None:
        """The item with this id among the tenant's responses (input and output) and conversations; the most
        recently stored one when several carry it (a client sends earlier output back as input)."""

    async def chain(self, tenant: str, response_id: str) -> list[Turn] | None:
        """The turns up to and including `response_id`, oldest first, following `previous_response_id`;
        None when `response_id` itself is missing. A deleted or expired predecessor ends the chain there."""

    async def create_conversation(self, tenant: str, conversation: Conversation,
                                  items: Sequence[JSONObject] = ()) -> None:
        """Raises `IdTaken` when the id exists."""

    async def get_conversation(self, tenant: str, conversation_id: str) -> Conversation | None: ...

    async def update_conversation(self, tenant: str, conversation_id: str,
                                  metadata: dict[str, str]) -> Conversation | None:
        """Replaces the metadata; None: no such conversation."""

    async def delete_conversation(self, tenant: str, conversation_id: str) -> bool: ...

    async def list_conversation_items(self, tenant: str, conversation_id: str, page: PageRequest) -> Page | None:
        ...

    async def append_conversation_items(self, tenant: str, conversation_id: str,
                                        items: Sequence[JSONObject]) -> bool:
        """False: no such conversation."""

    async def get_conversation_item(self, tenant: str, conversation_id: str, item_id: str) -> JSONObject | None:
        ...

    async def delete_conversation_item(self, tenant: str, conversation_id: str, item_id: str) -> bool: ...

    async def expire(self, ttl: float) -> int:
        """Deletes responses (with their items and events) stored, and conversations last changed, more than
        `ttl` seconds ago, by the store's clock; returns how many objects went."""

    async def close(self) -> None: ...


class Live(Protocol):
    async def append_events(self, tenant: str, response_id: str, events: Sequence[tuple[int, bytes]]) -> None:
        """Records events `(sequence_number, data)`, in increasing sequence order."""

    async def finish_events(self, tenant: str, response_id: str) -> None:
        """The stream has ended: readers waiting on it return."""

    async def read_events(self, tenant: str, response_id: str, after: int = -1, *, wait: float = 0) -> Events:
        """The events with a sequence number above `after`. With `wait`, when there are none yet and the stream
        has not ended, waits up to `wait` seconds for some (an empty, unfinished answer: ask again)."""

    async def beat(self, tenant: str, response_id: str) -> None:
        """The run is alive: the worker running it says so every few seconds (a run whose worker died stops)."""

    async def last_beat(self, tenant: str, response_id: str) -> float | None:
        """When the run last said it was alive (`beat`), by the store's clock; None: never."""

    async def cancel(self, tenant: str, response_id: str) -> None:
        """Signals the run to stop, wherever it runs; the signal stays (`is_cancelled`)."""

    async def is_cancelled(self, tenant: str, response_id: str) -> bool: ...

    async def wait_cancelled(self, tenant: str, response_id: str) -> None:
        """Returns once the run is cancelled (by any worker or replica). The run awaits it in a task of its own
        and cancels that task when it ends."""

    async def close(self) -> None: ...


class Store(Records, Live, Protocol):
    pass


def check_items(items: Sequence[JSONObject]) -> None:
    for n, item in enumerate(items):
        if not isinstance(item.get("id"), str):
            raise ValueError(f"item {n} has no string id: the store lists and finds items by id")


def window(ids: Sequence[str], page: PageRequest) -> tuple[int, int]:
    """The positions (into `ids`, in stored order) strictly between the cursors, as a half-open range."""
    lo, hi = 0, len(ids)
    for cursor, name in ((page.after, "after"), (page.before, "before")):
        if cursor is None:
            continue
        try:
            pos = ids.index(cursor)
        except ValueError:
            raise InvalidRequest(f"No item with id '{cursor}' in this list.", param=name) from None
        # `after` moves the near end (in the page's order), `before` the far end.
        if (name == "after") == (page.order == "asc"):
            lo = max(lo, pos + 1)
        else:
            hi = min(hi, pos)
    return lo, max(lo, hi)


def paginate(items: Sequence[JSONObject], page: PageRequest) -> Page:
    """One page of `items` (in stored order) for `page`."""
    ids = [str(i["id"]) for i in items]
    lo, hi = window(ids, page)
    chosen = list(items[lo:hi])
    if page.order == "desc":
        chosen.reverse()
    return page_of(chosen, page.limit)


def page_of(chosen: Sequence[JSONObject], limit: int) -> Page:
    """A page from the items in the window, in the page's order (at least `limit + 1` of them, when there are)."""
    data = list(chosen[:limit])
    return Page(data, str(data[0]["id"]) if data else None, str(data[-1]["id"]) if data else None,
                len(chosen) > limit)
