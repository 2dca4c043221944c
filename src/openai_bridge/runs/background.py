"""Background runs (`background: true`): the run goes on without the client, its status is kept in the store
as it changes, its events are recorded so that a dropped stream resumes anywhere, and a cancel signal from any
worker or replica stops it.

The stored response is the run's only outcome anybody can see: `in_progress` before the create request is
answered, then `completed`/`incomplete` (stored by the producer before its terminal event, like every stored
response), or `failed`/`cancelled` (stored here once the producer ended so)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any, cast

from ..errors import ResponseCancelled
from ..store.base import Store, StoredResponse
from ..wire.responses import Response, ResponseStreamEvent
from ..wire.sse import frame
from .log import EventLog
from .run import Run

log = logging.getLogger("openai_bridge")

CANCELLED = "The response was cancelled."
# A running background run says it is alive this often; one silent for LOST_AFTER seconds has lost its worker
# (killed, crashed, restarted) and is taken for failed by whoever looks at it next (`lost`).
BEAT_EVERY = 5.0
LOST_AFTER = 30.0
LOST = ("The bridge process that ran this background response stopped before it finished (it was restarted or "
        "crashed); send the request again.")


async def in_background(run: Run, *, produce: Callable[[Run], Coroutine[Any, Any, Response]], store: Store,
                        tenant: str, stored: StoredResponse) -> Response:
    """Runs `produce` (a stream producer: it ends its log with a terminal event whatever happens, and returns the
    final Response) to its end: records its events meanwhile, stops it when the response is cancelled, and
    stores how it ended when that is a failure."""
    response_id = stored.id
    recording = asyncio.create_task(record(run.log, store, tenant, response_id))
    watching = asyncio.create_task(store.wait_cancelled(tenant, response_id))

    def cancelled(signal: asyncio.Task[None]) -> None:
        if not signal.cancelled() and signal.exception() is None:
            run.stop(ResponseCancelled(CANCELLED))

    watching.add_done_callback(cancelled)
    beating = asyncio.create_task(_beat(store, tenant, response_id))
    try:
        return await keeping_failure(run, produce=produce, store=store, tenant=tenant, stored=stored)
    finally:
        watching.cancel()
        beating.cancel()
        with contextlib.suppress(Exception):  # already logged there
            await recording


async def keeping_failure(run: Run, *, produce: Callable[[Run], Coroutine[Any, Any, Response]], store: Store,
                          tenant: str, stored: StoredResponse) -> Response:
    """Runs `produce` (a stream producer) and stores its response when it failed or was cancelled (a completed
    or incomplete one the producer stored itself, before its terminal event). After the terminal event: a
    failure is not acknowledged as kept."""
    response = await produce(run)
    if response["status"] in ("failed", "cancelled"):
        try:
            await store.put_response(tenant, StoredResponse(
                stored.id, cast(dict[str, object], response), stored.input_items, stored.previous_response_id))
        except Exception:
            log.exception("keeping failed response %s failed", stored.id)
    return response


async def _beat(store: Store, tenant: str, response_id: str) -> None:
    while True:
        await asyncio.sleep(BEAT_EVERY)
        try:
            await store.beat(tenant, response_id)
        except Exception:  # the next one may get through; a run that stays silent is taken for lost
            log.exception("background response %s: its heartbeat failed", response_id)


async def lost(store: Store, tenant: str, found: StoredResponse) -> StoredResponse:
    """`found` as it is, unless it is a background run still under way whose worker has stopped saying it is
    alive: then it is failed (and kept so), as nothing will end it otherwise."""
    if not found.response.get("background") or found.response.get("status") not in ("queued", "in_progress"):
        return found
    last = await store.last_beat(tenant, found.id)
    if last is not None and time.time() - last <= LOST_AFTER:
        return found
    response = {**found.response, "status": "failed", "error": {"code": "server_error", "message": LOST}}
    failed = StoredResponse(found.id, response, found.input_items, found.previous_response_id)
    await store.put_response(tenant, failed)
    return failed


async def record(events: EventLog[ResponseStreamEvent], store: Store, tenant: str, response_id: str) -> None:
    """Every event of `events`, as its SSE frame, into the store's live events, the ones that arrived together in
    one write; the end of the log ends them there too."""
    position = 0
    try:
        while True:
            if position < len(events.events):
                batch = events.events[position:]
                position += len(batch)
                await store.append_events(tenant, response_id, [(e["sequence_number"], frame(e)) for e in batch])
            elif events.closed:
                break
            else:
                await events.wait(position)
    except Exception:
        log.exception("recording the events of background response %s failed: a resumed stream will miss them",
                      response_id)
    finally:
        await asyncio.shield(store.finish_events(tenant, response_id))
