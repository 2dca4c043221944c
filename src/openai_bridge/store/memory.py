"""The in-memory store, for tests (and `BRIDGE_STORE=memory`): everything is lost with the process, and each
worker process has its own. Objects go in and come out as JSON copies, as they do from the real backends, so a
caller that changes a dict it put (or got) changes nothing stored."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import orjson

from .base import (
    MAX_CHAIN,
    Conversation,
    Events,
    IdTaken,
    JSONObject,
    Page,
    PageRequest,
    StoredResponse,
    Turn,
    check_items,
    paginate,
)
from .signals import Signals


def _copy[T](value: T) -> T:
    return orjson.loads(orjson.dumps(value))  # type: ignore[no-any-return]


@dataclass
class _Response:
    tenant: str
    record: bytes  # StoredResponse fields as JSON
    stored_at: float
    stamp: int


@dataclass
class _Conversation:
    tenant: str
    conversation: Conversation
    items: list[JSONObject]
    stamps: list[int]
    changed_at: float


@dataclass
class _Run:
    events: list[tuple[int, bytes]] = field(default_factory=list)
    finished: bool = False
    cancelled: bool = False
    changed_at: float = 0.0
    beat: float | None = None


class MemoryStore:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._responses: dict[str, _Response] = {}
        self._conversations: dict[str, _Conversation] = {}
        self._runs: dict[tuple[str, str], _Run] = {}
        self._signals = Signals()
        self._stamp = 0

    def _next_stamp(self) -> int:
        self._stamp += 1
        return self._stamp

    # Responses.

    async def put_response(self, tenant: str, response: StoredResponse) -> None:
        check_items(response.input_items)
        old = self._responses.get(response.id)
        if old is not None and old.tenant != tenant:
            raise IdTaken(response.id)
        blob = orjson.dumps({"response": response.response, "input_items": response.input_items,
                             "previous_response_id": response.previous_response_id})
        self._responses[response.id] = _Response(tenant, blob, self.clock(), self._next_stamp())

    def _record(self, tenant: str, response_id: str) -> StoredResponse | None:
        found = self._responses.get(response_id)
        if found is None or found.tenant != tenant:
            return None
        data = orjson.loads(found.record)
        return StoredResponse(response_id, data["response"], data["input_items"], data["previous_response_id"])

    async def get_response(self, tenant: str, response_id: str) -> StoredResponse | None:
        return self._record(tenant, response_id)

    async def delete_response(self, tenant: str, response_id: str) -> bool:
        if self._record(tenant, response_id) is None:
            return False
        del self._responses[response_id]
        self._runs.pop((tenant, response_id), None)
        return True

    async def list_input_items(self, tenant: str, response_id: str, page: PageRequest) -> Page | None:
        record = self._record(tenant, response_id)
        return None if record is None else paginate(record.input_items, page)

    async def get_item(self, tenant: str, item_id: str) -> JSONObject | None:
        best: tuple[int, JSONObject] | None = None
        for response_id, entry in self._responses.items():
            if entry.tenant != tenant or (best is not None and entry.stamp < best[0]):
                continue
            record = self._record(tenant, response_id)
            assert record is not None
            # Output after input: of one response, its output is the newer.
            for item in [*record.input_items, *record.output_items]:
                if item.get("id") == item_id:
                    best = (entry.stamp, item)
        for conv in self._conversations.values():
            if conv.tenant != tenant:
                continue
            for item, stamp in zip(conv.items, conv.stamps, strict=True):
                if item.get("id") == item_id and (best is None or stamp > best[0]):
                    best = (stamp, item)
        return None if best is None else _copy(best[1])

    async def chain(self, tenant: str, response_id: str) -> list[Turn] | None:
        turns: list[Turn] = []
        seen: set[str] = set()
        next_id: str | None = response_id
        while next_id is not None and next_id not in seen and len(turns) < MAX_CHAIN:
            record = self._record(tenant, next_id)
            if record is None:
                break
            seen.add(next_id)
            turns.append(Turn(record.id, record.previous_response_id, record.instructions, record.input_items,
                              record.output_items))
            next_id = record.previous_response_id
        if not turns:
            return None
        turns.reverse()
        return turns

    # Conversations.

    def _conversation(self, tenant: str, conversation_id: str) -> _Conversation | None:
        found = self._conversations.get(conversation_id)
        return found if found is not None and found.tenant == tenant else None

    async def create_conversation(self, tenant: str, conversation: Conversation,
                                  items: Sequence[JSONObject] = ()) -> None:
        check_items(items)
        if conversation.id in self._conversations:
            raise IdTaken(conversation.id)
        self._conversations[conversation.id] = _Conversation(
            tenant, _copy_conversation(conversation), _copy(list(items)),
            [self._next_stamp() for _ in items], self.clock())

    async def get_conversation(self, tenant: str, conversation_id: str) -> Conversation | None:
        found = self._conversation(tenant, conversation_id)
        return None if found is None else _copy_conversation(found.conversation)

    async def update_conversation(self, tenant: str, conversation_id: str,
                                  metadata: dict[str, str]) -> Conversation | None:
        found = self._conversation(tenant, conversation_id)
        if found is None:
            return None
        found.conversation = Conversation(conversation_id, found.conversation.created_at, dict(metadata))
        found.changed_at = self.clock()
        return _copy_conversation(found.conversation)

    async def delete_conversation(self, tenant: str, conversation_id: str) -> bool:
        if self._conversation(tenant, conversation_id) is None:
            return False
        del self._conversations[conversation_id]
        return True

    async def list_conversation_items(self, tenant: str, conversation_id: str, page: PageRequest) -> Page | None:
        found = self._conversation(tenant, conversation_id)
        return None if found is None else paginate(_copy(found.items), page)

    async def append_conversation_items(self, tenant: str, conversation_id: str,
                                        items: Sequence[JSONObject]) -> bool:
        check_items(items)
        found = self._conversation(tenant, conversation_id)
        if found is None:
            return False
        found.items += _copy(list(items))
        found.stamps += [self._next_stamp() for _ in items]
        found.changed_at = self.clock()
        return True

    async def get_conversation_item(self, tenant: str, conversation_id: str, item_id: str) -> JSONObject | None:
        found = self._conversation(tenant, conversation_id)
        if found is None:
            return None
        return next((_copy(i) for i in found.items if i.get("id") == item_id), None)

    async def delete_conversation_item(self, tenant: str, conversation_id: str, item_id: str) -> bool:
        found = self._conversation(tenant, conversation_id)
        if found is None:
            return False
        for n, item in enumerate(found.items):
            if item.get("id") == item_id:
                del found.items[n], found.stamps[n]
                found.changed_at = self.clock()
                return True
        return False

    async def expire(self, ttl: float) -> int:
        cutoff = self.clock() - ttl
        old = [k for k, r in self._responses.items() if r.stored_at < cutoff]
        for key in old:
            tenant = self._responses.pop(key).tenant
            self._runs.pop((tenant, key), None)
        old_runs = [k for k, r in self._runs.items() if r.changed_at < cutoff]
        for run in old_runs:
            del self._runs[run]
        old_convs = [k for k, c in self._conversations.items() if c.changed_at < cutoff]
        for key in old_convs:
            del self._conversations[key]
        return len(old) + len(old_convs)

    # Live state of runs.

    def _run(self, tenant: str, response_id: str) -> _Run:
        run = self._runs.setdefault((tenant, response_id), _Run())
        run.changed_at = self.clock()
        return run

    async def append_events(self, tenant: str, response_id: str, events: Sequence[tuple[int, bytes]]) -> None:
        self._run(tenant, response_id).events += [(int(n), bytes(data)) for n, data in events]
        self._signals.notify(f"events {tenant} {response_id}")

    async def finish_events(self, tenant: str, response_id: str) -> None:
        self._run(tenant, response_id).finished = True
        self._signals.notify(f"events {tenant} {response_id}")

    async def read_events(self, tenant: str, response_id: str, after: int = -1, *, wait: float = 0) -> Events:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            run = self._runs.get((tenant, response_id), _Run())
            found = [e for e in run.events if e[0] > after]
            if found or run.finished or loop.time() >= deadline:
                return Events(found, run.finished)
            await self._signals.wait(f"events {tenant} {response_id}", deadline - loop.time())

    async def beat(self, tenant: str, response_id: str) -> None:
        self._run(tenant, response_id).beat = self.clock()

    async def last_beat(self, tenant: str, response_id: str) -> float | None:
        run = self._runs.get((tenant, response_id))
        return None if run is None else run.beat

    async def cancel(self, tenant: str, response_id: str) -> None:
        self._run(tenant, response_id).cancelled = True
        self._signals.notify(f"cancel {tenant} {response_id}")

    async def is_cancelled(self, tenant: str, response_id: str) -> bool:
        run = self._runs.get((tenant, response_id))
        return run is not None and run.cancelled

    async def wait_cancelled(self, tenant: str, response_id: str) -> None:
        while not await self.is_cancelled(tenant, response_id):
            await self._signals.wait(f"cancel {tenant} {response_id}", None)

    async def close(self) -> None:
        pass


def _copy_conversation(conversation: Conversation) -> Conversation:
    return Conversation(conversation.id, conversation.created_at, dict(conversation.metadata))
