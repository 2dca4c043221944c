"""Creating a response: the bridge's policy decisions, which way the request goes (through chat, or as it is to
an upstream that serves the Responses API itself), and the run that answers.

The way is the route's `mode`: `chat` always translates; `responses` always passes through (the answer
repaired where the upstream's is defective); `auto` uses what the bridge learned about the upstream and model
(`router.verdicts`), and while it knows nothing, tries `/responses` first: an answer that says the upstream has
no such endpoint sends the same request through chat (nothing was generated), a well-formed answer makes it
`native`, and a defective one is served repaired but makes it `chat` for later requests, because the chat
translation gives a client more than a repaired stream does (the `<think>` splitter, reasoning sent back,
the bridge's own handling of tools and settings).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import cast

import orjson

from ..errors import BridgeError, InvalidRequest, NotFound, ServerShuttingDown
from ..ids import now, random_id
from ..routing import Route, Router
from ..runs.background import in_background, keeping_failure
from ..runs.native import NotNative, answer_native, stream_native
from ..runs.run import Producer, Run
from ..runs.via_chat import answer_via_chat, stream_via_chat
from ..settings import Settings
from ..store.base import PageRequest, Store, StoredResponse
from ..store.open import StoreSlot
from ..translate import StreamRepair, StreamTranslator, repair_response, to_chat_request
from ..translate.history import (
    Item,
    approx_tokens,
    chain_history,
    conversation_turns,
    duplicates,
    fitting,
    input_items,
    references,
    resolved,
)
from ..translate.model import requested_model
from ..upstream.context import ContextWindows
from ..vault import ReasoningVault
from ..wire.responses import Response, ResponsesRequest

log = logging.getLogger("openai_bridge")
_SHUTTING_DOWN = "The bridge is shutting down and this response could not finish in time; send the request again."


class ResponsesService:
    def __init__(self, settings: Settings, router: Router, *, vault: ReasoningVault, store: StoreSlot,
                 new_id: Callable[[str], str] = random_id, clock: Callable[[], int] = now) -> None:
        self.settings = settings
        self.router = router
        self.vault = vault
        self.store = store
        self.new_id = new_id
        self.clock = clock
        # Models seen answering `reasoning...</think>answer` (their chat template opens the block in the
        # prompt): their streams are split from the start from then on.
        self.closing_think_models: set[str] = set()
        self.runs: set[Run] = set()  # those under way
        # What upstreams report of their models' context windows (for truncation: auto without a configured one).
        self.context_windows = ContextWindows(settings.detect_ttl)
        self.shut = False

    async def create(self, request: Mapping[str, object], request_id: str = "-", *, client_key: str | None = None,
                     tenant: str = "") -> Run:
        """Start answering `request` (a parsed create body) for `tenant` (whose stored responses it may build
        on, and who will own it). Raises `InvalidRequest` (`NotFound`) for a request the bridge refuses,
        `ServerShuttingDown` once `shut_down` was called; else the run is under way (`run.task`, `run.log`)."""
        if self.shut:
            raise ServerShuttingDown(_SHUTTING_DOWN)
        self._limits(request)
        model = requested_model(request, self.settings.default_model)
        route = self.router.route(model, client_key)
        # A background response is the bridge's own in `auto` mode (it keeps, polls, resumes and cancels it);
        # only `responses` mode hands it to the upstream.
        native = route.mode == "responses" or (
            route.mode == "auto" and not request.get("background")
            and self.router.verdicts.native(route.name, route.model) is not False
            and not await self._holds(request, tenant))
        if native:
            produce = self._native(request, route, model, request_id, tenant)
            streaming = bool(request.get("stream"))
            detached = None
        else:
            produce, streaming, detached = await self._via_chat(request, route, request_id, tenant)
        run = Run(produce, model=model, streaming=streaming, detached=detached)
        self.runs.add(run)
        run.task.add_done_callback(lambda _: self.runs.discard(run))
        return run

    async def _holds(self, request: Mapping[str, object], tenant: str) -> bool:
        """Whether the request continues a chain or a conversation the bridge keeps (for this tenant): in `auto`
        mode it then goes through chat, where that history is rebuilt, even to an upstream that serves
        `/responses` (which would not know the id). One the bridge does not know may be the upstream's own."""
        if not _continues(request):
            return False
        previous = request.get("previous_response_id")
        conversation = request.get("conversation")
        store = await self.store.get()
        if isinstance(previous, str) and await store.get_response(tenant, previous) is not None:
            return True
        try:
            conversation_id = _conversation_id(conversation)
        except InvalidRequest:
            return False  # the chat path refuses it, or the upstream does
        return conversation_id is not None and await store.get_conversation(tenant, conversation_id) is not None

    def _native(self, request: Mapping[str, object], route: Route, model: str, request_id: str,
                tenant: str) -> Producer:
        """The request as it came (its `model` the upstream's name for it) to the upstream's `/responses`. The
        store policy and `item_reference` resolution are not the bridge's here: the upstream keeps its own state."""
        upstream_request = cast(ResponsesRequest, {**request, "model": route.model})
        auto = route.mode == "auto"
        detecting = auto and self.router.verdicts.native(route.name, route.model) is None
        if detecting and not _stateful(request):
            # A malformed request is the client's 400 at once, before any upstream sees it. (One that names
            # stored state is the upstream's to judge: the ids may be its own.)
            to_chat_request(request, default_model=self.settings.default_model,
                            options=replace(route.options, strict=False), unseal=self.vault.open)
        learn = partial(self.router.verdicts.learn, route.name, route.model) if auto else None
        store = request.get("store") is True  # what the upstream keeps is its business: echoed where it says nothing
        native: Producer
        if request.get("stream"):
            machine = StreamRepair(request, model=model, new_id=self.new_id, clock=self.clock, store=store)
            native = partial(stream_native, machine=machine, upstream=route.upstream, request=upstream_request,
                             request_id=request_id, learn=learn, may_fall_back=detecting)
        else:
            def repair(body: Mapping[str, object], defects: list[str]) -> Response:
                return repair_response(body, request, model=model, new_id=self.new_id, clock=self.clock, store=store,
                                       defects=defects)
            native = partial(answer_native, repair=repair, upstream=route.upstream, request=upstream_request,
                             learn=learn, may_fall_back=detecting)
        if not detecting:
            return native

        async def native_else_chat(run: Run) -> Response:
            try:
                return await native(run)
            except NotNative as exc:
                self.router.verdicts.learn(
                    route.name, route.model, False,
                    f"POST /responses answered {getattr(exc.error, 'upstream_status', None) or exc.error.status}; "
                    "this request went through chat instead, generated once")
            try:
                chat, _, _ = await self._via_chat(request, route, request_id, tenant)
            except BridgeError as exc:  # the chat path's policy refuses what the native upstream might have served
                run.refused(exc)
                run.log.close()
                raise
            return await chat(run)

        return native_else_chat

    async def _via_chat(self, request: Mapping[str, object], route: Route, request_id: str,
                        tenant: str) -> tuple[Producer, bool, Response | None]:
        """The request translated down to chat (with the history it names), the producer that answers it,
        whether the client gets a stream, and for a background response the object it gets at once."""
        background = self._background(request)
        opts = route.options
        window = opts.context_window
        if not window and request.get("truncation") == "auto" and _continues(request):
            window = await self.context_windows.get(route.name, route.model, route.upstream) or 0
        turn = await self._turn(request, tenant, window)
        # A background run always streams from the upstream: its events are recorded, whatever the client reads.
        down = to_chat_request({**turn.request, "stream": True} if background else turn.request,
                               default_model=self.settings.default_model, options=opts, unseal=self.vault.open)
        for d in down.dropped:
            log.warning("dropped %s (%s)", d.param, d.reason)
        model = down.chat["model"]  # the client's name for it, which the Response echoes
        down.chat["model"] = route.model
        if opts.think_tags is True and model in self.closing_think_models:
            opts = replace(opts, think_tags="implicit")
        machine = StreamTranslator(request, model=model, new_id=self.new_id, clock=self.clock,
                                   options=opts, seal=self.vault.seal, store=turn.kept is not None)
        streaming = bool(request.get("stream"))
        produce: Producer = partial(stream_via_chat if down.chat.get("stream") else answer_via_chat, machine=machine,
                                    upstream=route.upstream, chat=down.chat, request_id=request_id,
                                    finished=partial(self._finished, machine, turn, tenant))
        if not background and (turn.kept is None or not streaming):
            return produce, streaming, None  # (a non-stream failure is an HTTP error: there is no response to keep)
        kept = StoredResponse(machine.response["id"], cast(dict[str, object], machine.response), turn.kept or [],
                              turn.previous_response_id)
        store = await self.store.get()
        if not background:  # a stream that fails is kept failed, as OpenAI keeps it
            return partial(keeping_failure, produce=produce, store=store, tenant=tenant, stored=kept), streaming, None
        # Kept before the client hears of it, so that a poll right after the answer finds it: as it is now (the
        # machine goes on changing its own object).
        stored = replace(kept, response=_copy(machine.response))
        await store.put_response(tenant, stored)
        await store.beat(tenant, stored.id)  # alive from the start (see runs.background.lost)
        return partial(in_background, produce=produce, store=store, tenant=tenant, stored=stored), streaming, \
            stored.response  # type: ignore[return-value]

    async def _turn(self, request: Mapping[str, object], tenant: str, context_window: int = 0) -> _Turn:
        """The request as it is translated (its input after the history it names, its item references
        resolved), and what the store keeps of it. A request that names no stored state and asks nothing to
        be kept is left as it is. With `truncation: "auto"` and a known `context_window`, the history's oldest
        turns are dropped until the request fits it (with room left for the answer)."""
        keep = request.get("store") is not False
        previous = request.get("previous_response_id")
        conversation = _conversation_id(request.get("conversation"))
        if previous is not None and conversation is not None:
            raise InvalidRequest("'previous_response_id' and 'conversation' cannot be used together: a response "
                                 "continues either a chain or a conversation.", param="previous_response_id",
                                 code="mutually_exclusive_parameters")
        if not (keep or previous is not None or conversation is not None or _references(request)):
            return _Turn(request)
        if "input" not in request:
            raise InvalidRequest("Missing required parameter: 'input'.", param="input")
        store = await self.store.get()
        items = input_items(request["input"], self.new_id)
        refs = references(items)
        if refs:
            items = resolved(items, await self._referenced(store, tenant, refs))
        turns: list[list[Item]] = []
        if previous is not None:
            if not isinstance(previous, str):
                raise InvalidRequest("'previous_response_id' must be a string.", param="previous_response_id")
            chain = await store.chain(tenant, previous)
            if chain is None:
                # OpenAI's answer, word for word: a 400 with this code, which clients (Codex, pydantic-ai, ...)
                # look for to send the whole history again instead.
                raise InvalidRequest(f"Previous response with id '{previous}' not found.",
                                     param="previous_response_id", code="previous_response_not_found")
            turns = chain_history((t.input_items, t.output_items) for t in chain)
        elif conversation is not None:
            found = await self._conversation_items(store, tenant, conversation)
            if found is None:
                raise NotFound(f"Conversation with id '{conversation}' not found.", param="conversation")
            # The new items join the conversation, which finds and pages its items by id.
            twice = duplicates(items, (str(item["id"]) for item in found))
            if twice is not None:
                raise InvalidRequest(f"Duplicate item found with id {twice}. Remove duplicate items from your input "
                                     "and try again.", param="input")
            turns = conversation_turns(found)
        if turns and context_window and request.get("truncation") == "auto":
            turns = _truncated(request, turns, items, context_window)
        if turns or isinstance(request["input"], list):
            request = {**request, "input": [item for turn in turns for item in turn] + items}
        return _Turn(request, items if keep else None, previous if isinstance(previous, str) else None,
                     conversation, items)

    @staticmethod
    async def _referenced(store: Store, tenant: str, refs: list[tuple[int, str]]) -> dict[str, Item]:
        found: dict[str, Item] = {}
        for n, item_id in refs:
            if item_id not in found:
                item = await store.get_item(tenant, item_id)
                if item is None:
                    raise NotFound(f"Item with id '{item_id}' not found.", param=f"input[{n}].id")
                found[item_id] = item
        return found

    @staticmethod
    async def _conversation_items(store: Store, tenant: str, conversation_id: str) -> list[Item] | None:
        """Every item of the conversation, oldest first; None: there is no such conversation (of this tenant)."""
        items: list[Item] = []
        after: str | None = None
        while True:
            page = await store.list_conversation_items(tenant, conversation_id,
                                                       PageRequest(limit=1000, order="asc", after=after))
            if page is None:
                return None
            items += page.data
            if not page.has_more:
                return items
            after = page.last_id

    def shut_down(self) -> int:
        """The bridge is stopping and the grace period is over: end every run under way now (a stream with
        `response.failed`, a non-stream answer with a 503), and refuse new ones. Returns how many it ended."""
        self.shut = True
        runs = list(self.runs)
        for run in runs:
            run.stop(ServerShuttingDown(_SHUTTING_DOWN))
        return len(runs)

    def _limits(self, request: Mapping[str, object]) -> None:
        """This bridge's limits, whichever way the request goes."""
        limits = self.settings.limits
        items = request.get("input")
        if isinstance(items, list) and len(items) > limits.max_input_items:
            raise InvalidRequest(f"'input' has {len(items)} items; this bridge takes at most {limits.max_input_items} "
                                 "(BRIDGE_MAX_INPUT_ITEMS).", param="input", code="too_many_input_items")
        tools = _count_tools(request.get("tools"))
        if tools > limits.max_tools:
            raise InvalidRequest(f"'tools' has {tools} tools (counting those inside namespaces); this bridge takes at "
                                 f"most {limits.max_tools} (BRIDGE_MAX_TOOLS).", param="tools", code="too_many_tools")

    @staticmethod
    def _background(request: Mapping[str, object]) -> bool:
        background = request.get("background")
        if background not in (None, True, False):
            raise InvalidRequest("'background' must be a boolean.", param="background")
        if background and request.get("store") is False:
            raise InvalidRequest("A background response is kept until it is done: 'background: true' needs 'store' "
                                 "to be true.", param="store", code="invalid_value")
        return bool(background)

    async def _finished(self, machine: StreamTranslator, turn: _Turn, tenant: str, response: Response) -> None:
        """Keeps the response (unless the client said `store: false`) and adds its items to the conversation it
        continues, before the client can see it completed; a model that closed a think block it never opened is
        remembered."""
        if turn.kept is not None:
            store = await self.store.get()
            await store.put_response(tenant, StoredResponse(
                response["id"], cast(dict[str, object], response), turn.kept, turn.previous_response_id))
        if turn.conversation is not None:
            store = await self.store.get()
            added = turn.items + [cast(Item, item) for item in response["output"]]
            if not await store.append_conversation_items(tenant, turn.conversation, added):
                raise NotFound(f"Conversation with id '{turn.conversation}' not found: it was deleted while "
                               "this response was being generated.", param="conversation")
        model = response["model"]
        if machine.closing_think_only and model not in self.closing_think_models:
            self.closing_think_models.add(model)
            log.info("model %s answers 'reasoning...</think>answer' (its chat template opens the think block): "
                     "its next streams are split into reasoning and text from the start", model)


@dataclass(frozen=True, slots=True)
class _Turn:
    """A request ready for translation: `request` with the history it names before its own input."""

    request: Mapping[str, object]
    kept: list[Item] | None = None  # the input items the store keeps, with ids; None: nothing is stored
    previous_response_id: str | None = None
    conversation: str | None = None  # the id of the conversation the response continues
    items: list[Item] = field(default_factory=list)  # the request's own input items, with ids


def _truncated(request: Mapping[str, object], turns: list[list[Item]], items: list[Item],
               context_window: int) -> list[list[Item]]:
    """The newest turns that fit the context window beside the request's own input, instructions and tools,
    with room for the answer (`max_output_tokens`, else an eighth of the window)."""
    answer = request.get("max_output_tokens")
    room = context_window - (answer if isinstance(answer, int) and answer > 0 else context_window // 8)
    room -= approx_tokens([items, request.get("instructions"), request.get("tools")])
    kept = fitting(turns, room)
    if len(kept) < len(turns):
        log.info("truncation auto: dropped the %d oldest of %d earlier turns to fit the context window (%d tokens)",
                 len(turns) - len(kept), len(turns), context_window)
    return kept


def _copy(response: Response) -> dict[str, object]:
    return cast(dict[str, object], orjson.loads(orjson.dumps(response)))


def _conversation_id(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("id")
    if not isinstance(value, str) or not value:
        raise InvalidRequest("'conversation' must be a conversation id, or an object with its 'id'.",
                             param="conversation")
    return value


def _references(request: Mapping[str, object]) -> bool:
    items = request.get("input")
    return isinstance(items, list) and any(isinstance(i, dict) and i.get("type") == "item_reference" for i in items)


def _continues(request: Mapping[str, object]) -> bool:
    """Whether the request continues an earlier response or a conversation (whose history goes before it)."""
    return request.get("previous_response_id") is not None or request.get("conversation") is not None


def _stateful(request: Mapping[str, object]) -> bool:
    """Whether the request names stored state: an earlier response, a conversation, or items by reference."""
    return _continues(request) or _references(request)


def _count_tools(tools: object) -> int:
    if not isinstance(tools, list):
        return 0
    inner = [t.get("tools") for t in tools if isinstance(t, dict) and t.get("type") == "namespace"]
    return len(tools) + sum(len(group) for group in inner if isinstance(group, list))
