"""A whole `Store` from a durable one and a separate `Live` (Redis): records go to the first, a run's events
and cancel signal to the second."""

from __future__ import annotations

from collections.abc import Sequence

from .base import Conversation, Events, JSONObject, Live, Page, PageRequest, Records, StoredResponse, Turn


class WithLive:
    def __init__(self, records: Records, live: Live) -> None:
        self.records = records
        self.live = live

    # Records.

    async def put_response(self, tenant: str, response: StoredResponse) -> None:
        await self.records.put_response(tenant, response)

    async def get_response(self, tenant: str, response_id: str) -> StoredResponse | None:
        return await self.records.get_response(tenant, response_id)

    async def list_input_items(self, tenant: str, response_id: str, page: PageRequest) -> Page | None:
        return await self.records.list_input_items(tenant, response_id, page)

    async def get_item(self, tenant: str, item_id: str) -> JSONObject | None:
        return await self.records.get_item(tenant, item_id)

    async def chain(self, tenant: str, response_id: str) -> list[Turn] | None:
        return await self.records.chain(tenant, response_id)

    async def create_conversation(self, tenant: str, conversation: Conversation,
                                  items: Sequence[JSONObject] = ()) -> None:
        await self.records.create_conversation(tenant, conversation, items)

    async def get_conversation(self, tenant: str, conversation_id: str) -> Conversation | None:
        return await self.records.get_conversation(tenant, conversation_id)

    async def update_conversation(self, tenant: str, conversation_id: str,
                                  metadata: dict[str, str]) -> Conversation | None:
        return await self.records.update_conversation(tenant, conversation_id, metadata)

    async def delete_conversation(self, tenant: str, conversation_id: str) -> bool:
        return await self.records.delete_conversation(tenant, conversation_id)

    async def list_conversation_items(self, tenant: str, conversation_id: str, page: PageRequest) -> Page | None:
        return await self.records.list_conversation_items(tenant, conversation_id, page)

    async def append_conversation_items(self, tenant: str, conversation_id: str,
                                        items: Sequence[JSONObject]) -> bool:
        return await self.records.append_conversation_items(tenant, conversation_id, items)

    async def get_conversation_item(self, tenant: str, conversation_id: str, item_id: str) -> JSONObject | None:
        return await self.records.get_conversation_item(tenant, conversation_id, item_id)

    async def delete_conversation_item(self, tenant: str, conversation_id: str, item_id: str) -> bool:
        return await self.records.delete_conversation_item(tenant, conversation_id, item_id)

    async def expire(self, ttl: float) -> int:
        return await self.records.expire(ttl)

    # Live state of runs.

    async def append_events(self, tenant: str, response_id: str, events: Sequence[tuple[int, bytes]]) -> None:
        await self.live.append_events(tenant, response_id, events)

    async def finish_events(self, tenant: str, response_id: str) -> None:
        await self.live.finish_events(tenant, response_id)

    async def read_events(self, tenant: str, response_id: str, after: int = -1, *, wait: float = 0) -> Events:
        return await self.live.read_events(tenant, response_id, after, wait=wait)

    async def beat(self, tenant: str, response_id: str) -> None:
        await self.live.beat(tenant, response_id)

    async def last_beat(self, tenant: str, response_id: str) -> float | None:
        return await self.live.last_beat(tenant, response_id)

    async def cancel(self, tenant: str, response_id: str) -> None:
        await self.live.cancel(tenant, response_id)

    async def is_cancelled(self, tenant: str, response_id: str) -> bool:
        return await self.live.is_cancelled(tenant, response_id)

    async def wait_cancelled(self, tenant: str, response_id: str) -> None:
        await self.live.wait_cancelled(tenant, response_id)

    async def delete_response(self, tenant: str, response_id: str) -> bool:
        # The run's live state expires in Redis by itself; the durable record is what decides "not found".
        return await self.records.delete_response(tenant, response_id)

    async def close(self) -> None:
        try:
            await self.live.close()
        finally:
            await self.records.close()
