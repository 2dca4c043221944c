"""Stored responses, as the client reads them back: retrieve, delete, list input items. Every lookup is the
tenant's: another tenant's response is as missing as one that never was (a 404 naming the id, never a 403)."""

from __future__ import annotations

from ..errors import NotFound
from ..store.base import JSONObject, Page, PageRequest
from ..store.open import StoreSlot


def list_body(page: Page) -> JSONObject:
    """A page as OpenAI's list object."""
    return {"object": "list", "data": page.data, "first_id": page.first_id, "last_id": page.last_id,
            "has_more": page.has_more}


def _missing(response_id: str) -> NotFound:
    return NotFound(f"Response with id '{response_id}' not found.", param="response_id")


class StoredResponses:
    def __init__(self, store: StoreSlot) -> None:
        self.store = store

    async def get(self, tenant: str, response_id: str) -> JSONObject:
        found = await (await self.store.get()).get_response(tenant, response_id)
        if found is None:
            raise _missing(response_id)
        return found.response

    async def delete(self, tenant: str, response_id: str) -> JSONObject:
        if not await (await self.store.get()).delete_response(tenant, response_id):
            raise _missing(response_id)
        return {"id": response_id, "object": "response", "deleted": True}

    async def input_items(self, tenant: str, response_id: str, page: PageRequest) -> JSONObject:
        found = await (await self.store.get()).list_input_items(tenant, response_id, page)
        if found is None:
            raise _missing(response_id)
        return list_body(found)
