"""Stored responses, as the client reads them back: retrieve, delete, list input items; for a background
response also its recorded events (a dropped stream resumed) and its cancellation. Every lookup is the
tenant's: another tenant's response is as missing as one that never was (a 404 naming the id, never a 403)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from ..errors import InvalidRequest, NotFound
from ..runs.background import CANCELLED, lost
from ..store.base import JSONObject, Page, PageRequest, StoredResponse
from ..store.open import StoreSlot
from ..wire.sse import frame

# How long a cancel waits for the run (on whichever worker or replica it runs) to stop and store `cancelled`,
# before it stores `cancelled` itself (a run whose worker is gone is found failed at once: runs.background.lost).
CANCEL_WAIT = 5.0
_ENDED = ("completed", "incomplete", "failed", "cancelled")


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
        store = await self.store.get()
        found = await store.get_response(tenant, response_id)
        if found is None:
            raise _missing(response_id)
        return (await lost(store, tenant, found)).response

    async def events(self, tenant: str, response_id: str, after: int, keepalive: float) -> AsyncIterator[bytes]:
        """The recorded SSE frames of a background response after sequence number `after`, as they are recorded,
        until its stream ended; an empty chunk whenever nothing came for `keepalive` seconds. Raises (a 404, a
        400) when awaited, before any frame: the client still gets an HTTP error status."""
        found = await self._background(tenant, response_id, "streamed again", "stream")
        return self._frames(tenant, found, after, keepalive)

    async def _background(self, tenant: str, response_id: str, doing: str, param: str) -> StoredResponse:
        """The tenant's background response `response_id` (failed if its worker was lost); a 404, or a 400 for a
        response that is not one."""
        store = await self.store.get()
        found = await store.get_response(tenant, response_id)
        if found is None:
            raise _missing(response_id)
        if not found.response.get("background"):
            raise InvalidRequest(f"Response '{response_id}' was not created with background: true; only a background "
                                 f"response can be {doing}.", param=param)
        return await lost(store, tenant, found)

    async def _frames(self, tenant: str, found: StoredResponse, after: int, keepalive: float) -> AsyncIterator[bytes]:
        store = await self.store.get()
        while True:
            events = await store.read_events(tenant, found.id, after, wait=keepalive)
            if events.events:
                after = events.events[-1][0]
                yield b"".join(data for _, data in events.events)
            elif events.finished:
                return
            elif (found := await lost(store, tenant, found)).response.get("status") == "failed":
                # Its worker is gone and nothing will end the recorded stream: it ends here, as the run did.
                yield frame({"type": "response.failed", "response": found.response, "sequence_number": after + 1})
                return
            else:
                yield b""

    async def cancel(self, tenant: str, response_id: str) -> JSONObject:
        """Signals the run to stop wherever it runs, and answers with the response once it has: `cancelled`, or
        how it ended first. A response that has ended already is answered as it is."""
        found = await self._background(tenant, response_id, "cancelled", "response_id")
        store = await self.store.get()
        if found.response.get("status") in _ENDED:
            return found.response
        await store.cancel(tenant, response_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CANCEL_WAIT
        while loop.time() < deadline:
            await asyncio.sleep(0.05)
            now = await store.get_response(tenant, response_id)
            if now is None:  # deleted meanwhile
                raise _missing(response_id)
            if now.response.get("status") in _ENDED:
                return now.response
        # No run stopped in time (its worker is wedged; one that is gone was found failed above): it is
        # cancelled all the same, and stays so.
        response = {**found.response, "status": "cancelled", "error": {"code": "cancelled", "message": CANCELLED}}
        await store.put_response(tenant, StoredResponse(response_id, response, found.input_items,
                                                        found.previous_response_id))
        return response

    async def delete(self, tenant: str, response_id: str) -> JSONObject:
        if not await (await self.store.get()).delete_response(tenant, response_id):
            raise _missing(response_id)
        return {"id": response_id, "object": "response", "deleted": True}

    async def input_items(self, tenant: str, response_id: str, page: PageRequest) -> JSONObject:
        found = await (await self.store.get()).list_input_items(tenant, response_id, page)
        if found is None:
            raise _missing(response_id)
        return list_body(found)
