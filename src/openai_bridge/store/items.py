"""Recently produced output items, so that a later request can name them by `item_reference`.

The AI SDK, with its default `store: true`, sends earlier reasoning and messages back as
`{"type": "item_reference", "id": "rs_..."}` instead of in full. Until the bridge keeps stored responses,
this bounded in-memory cache (per worker process) resolves them: the newest items are kept up to a count
and a size budget; requests with `store: false` leave nothing behind.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Mapping, Sequence

import orjson

from ..errors import InvalidRequest, NotFound
from ..wire.responses import ResponseOutputItem

log = logging.getLogger("openai_bridge")


class ItemCache:
    def __init__(self, max_items: int = 4096, max_bytes: int = 32 * 1024 * 1024) -> None:
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, tuple[bytes, int]] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def put(self, items: Sequence[ResponseOutputItem]) -> None:
        for item in items:
            item_id = item.get("id")
            if not isinstance(item_id, str):
                continue
            # A frozen copy: later changes to the dict do not leak in. Copied once more because orjson's
            # bytes keep the over-sized buffer they were built in (measured: 17 MB instead of 3 MB of RSS
            # for a full cache of 400-byte items).
            blob = bytes(memoryview(orjson.dumps(item)))
            old = self._items.pop(item_id, None)
            if old is not None:
                self._bytes -= old[1]
            if len(blob) > self.max_bytes:  # room for it only by evicting everything: keep the others instead
                log.warning("output item %s (%d bytes) is larger than the item cache (%d bytes): not kept for "
                            "item_reference", item_id, len(blob), self.max_bytes)
                continue
            self._items[item_id] = (blob, len(blob))
            self._bytes += len(blob)
        while self._items and (len(self._items) > self.max_items or self._bytes > self.max_bytes):
            _, (_, size) = self._items.popitem(last=False)
            self._bytes -= size

    def get(self, item_id: str) -> dict[str, object] | None:
        entry = self._items.get(item_id)
        return None if entry is None else orjson.loads(entry[0])

    def resolve(self, request: Mapping[str, object]) -> Mapping[str, object]:
        """`request` with every `item_reference` in its input replaced by the item it names."""
        items = request.get("input")
        if not isinstance(items, list) or not any(
            isinstance(i, dict) and i.get("type") == "item_reference" for i in items
        ):
            return request
        resolved: list[object] = []
        for n, item in enumerate(items):
            if isinstance(item, dict) and item.get("type") == "item_reference":
                item_id = item.get("id")
                if not isinstance(item_id, str):
                    raise InvalidRequest(f"'input[{n}].id' must be a string.", param=f"input[{n}].id")
                found = self.get(item_id)
                if found is None:
                    raise NotFound(
                        f"Item with id '{item_id}' not found: the bridge keeps recent output items in memory only "
                        "(per worker, bounded); send the item itself instead.", param=f"input[{n}].id")
                item = found
            resolved.append(item)
        return {**request, "input": resolved}
