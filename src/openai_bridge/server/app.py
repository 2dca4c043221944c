"""The composition root: settings -> upstream, vault, caches -> services -> the FastAPI app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from ..ids import now, random_id
from ..routing import DEFAULT, Router, configured_upstreams
from ..service.chat import ChatService
from ..service.conversations import ConversationsService
from ..service.models import ModelsService
from ..service.responses import ResponsesService
from ..service.stored import StoredResponses
from ..settings import Settings
from ..store.base import Store
from ..store.open import StoreSlot
from ..upstream.base import Upstream
from ..upstream.http import HTTPUpstream
from ..vault import ReasoningVault, load_secret
from . import errors
from .keys import KeyCheck
from .middleware import RequestIdMiddleware
from .routes import mount


def create_app(settings: Settings, *, upstream: Upstream | None = None, store: Store | None = None,
               new_id: Callable[[str], str] = random_id, clock: Callable[[], int] = now) -> FastAPI:
    """The bridge as an ASGI app. `upstream` defaults to the HTTP client for `settings.upstream`, `store` to
    the one `settings.store` names (opened at start); tests pass `openai_bridge.testing.FakeUpstream` (and a
    `MemoryStore`, repeatable `new_id`/`clock`)."""
    upstreams: dict[str, Upstream]
    if upstream is not None:
        upstreams = {DEFAULT: upstream}
    else:
        configs = configured_upstreams(settings)
        secrets = [settings.reasoning_key, *(c.api_key for c in configs)]  # no upstream repeats another's key
        upstreams = {c.name: HTTPUpstream(c.base_url, api_key=c.api_key, timeouts=c.timeouts or settings.timeouts,
                                          secrets=secrets) for c in configs}
    router = Router(settings, upstreams)
    slot = StoreSlot(settings, store)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await slot.get()  # a store that cannot be opened stops the start, saying why
            yield
        finally:
            try:
                await router.aclose()
            finally:
                await slot.close()

    app = FastAPI(title="openai-bridge", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.responses = ResponsesService(
        settings, router, vault=ReasoningVault(load_secret(settings.reasoning_key, settings.state_dir)),
        store=slot, new_id=new_id, clock=clock)
    app.state.stored = StoredResponses(slot)
    app.state.conversations = ConversationsService(settings, slot, new_id=new_id, clock=clock)
    app.state.chat = ChatService(settings, router, new_id=new_id, clock=clock)
    app.state.models = ModelsService(router)
    if settings.api_keys:  # added first: it runs inside the request-id middleware
        app.add_middleware(KeyCheck, keys=settings.api_keys)
    app.add_middleware(RequestIdMiddleware)
    errors.install(app)
    mount(app)
    return app


def shut_down(app: FastAPI) -> int:
    """End every response under way now, properly (the grace period of a shutdown is over): a stream with
    `response.failed` (code `server_shutting_down`; a chat completion stream with an error object), a
    non-stream request with a 503. Returns how many."""
    responses: ResponsesService = app.state.responses
    chat: ChatService = app.state.chat
    return responses.shut_down() + chat.shut_down()


def with_reasoning_key(settings: Settings) -> Settings:
    """`settings` with the reasoning key filled in: the configured one, else the state directory's (made
    there on first use). The supervisor calls this before it forks, so every worker, and every worker started
    later to replace one, seals with the same key."""
    if settings.reasoning_key:
        return settings
    secret = load_secret(None, settings.state_dir).decode("utf-8", "surrogateescape")
    return settings.model_copy(update={"reasoning_key": secret})
