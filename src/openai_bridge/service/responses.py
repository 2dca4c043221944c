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
from dataclasses import replace
from functools import partial
from typing import cast

from ..errors import BridgeError, InvalidRequest, NotFound, ServerShuttingDown
from ..ids import now, random_id
from ..routing import Route, Router
from ..runs.native import NotNative, answer_native, stream_native
from ..runs.run import Producer, Run
from ..runs.via_chat import answer_via_chat, stream_via_chat
from ..settings import Settings
from ..store.items import ItemCache
from ..translate import Dropped, StreamRepair, StreamTranslator, repair_response, to_chat_request
from ..translate.model import requested_model
from ..vault import ReasoningVault
from ..wire.responses import Response, ResponsesRequest

log = logging.getLogger("openai_bridge")
_SHUTTING_DOWN = "The bridge is shutting down and this response could not finish in time; send the request again."


class ResponsesService:
    def __init__(self, settings: Settings, router: Router, *, vault: ReasoningVault, items: ItemCache,
                 new_id: Callable[[str], str] = random_id, clock: Callable[[], int] = now) -> None:
        self.settings = settings
        self.router = router
        self.vault = vault
        self.items = items
        self.new_id = new_id
        self.clock = clock
        # Models seen answering `reasoning...</think>answer` (their chat template opens the block in the
        # prompt): their streams are split from the start from then on.
        self.closing_think_models: set[str] = set()
        self.runs: set[Run] = set()  # those under way
        self.shut = False

    def create(self, request: Mapping[str, object], request_id: str = "-", *, client_key: str | None = None) -> Run:
        """Start answering `request` (a parsed create body). Raises `InvalidRequest` for a request the
        bridge refuses, `ServerShuttingDown` once `shut_down` was called; else the run is under way
        (`run.task`, `run.log`)."""
        if self.shut:
            raise ServerShuttingDown(_SHUTTING_DOWN)
        self._limits(request)
        model = requested_model(request, self.settings.default_model)
        route = self.router.route(model, client_key)
        native = route.mode == "responses" or (
            route.mode == "auto" and self.router.verdicts.native(route.name, route.model) is not False)
        if native:
            produce = self._native(request, route, model, request_id)
            streaming = bool(request.get("stream"))
        else:
            produce, streaming = self._via_chat(request, route, request_id)
        run = Run(produce, model=model, streaming=streaming)
        self.runs.add(run)
        run.task.add_done_callback(lambda _: self.runs.discard(run))
        return run

    def _native(self, request: Mapping[str, object], route: Route, model: str, request_id: str) -> Producer:
        """The request as it came (its `model` the upstream's name for it) to the upstream's `/responses`. The
        store policy and `item_reference` resolution are not the bridge's here: the upstream keeps its own state."""
        upstream_request = cast(ResponsesRequest, {**request, "model": route.model})
        auto = route.mode == "auto"
        detecting = auto and self.router.verdicts.native(route.name, route.model) is None
        if detecting:  # a malformed request is the client's 400 at once, before any upstream sees it
            try:
                resolved = self.items.resolve(request)
            except NotFound:  # an item_reference this bridge does not know may be the upstream's own
                resolved = None
            if resolved is not None:
                to_chat_request(resolved, default_model=self.settings.default_model,
                                options=replace(route.options, strict=False), unseal=self.vault.open)
        learn = partial(self.router.verdicts.learn, route.name, route.model) if auto else None
        store = request.get("store") is True  # what the upstream keeps is its business: echoed where it says nothing
        finished = partial(self._finished_native, request)
        native: Producer
        if request.get("stream"):
            machine = StreamRepair(request, model=model, new_id=self.new_id, clock=self.clock, store=store)
            native = partial(stream_native, machine=machine, upstream=route.upstream, request=upstream_request,
                             finished=finished, request_id=request_id, learn=learn, may_fall_back=detecting)
        else:
            def repair(body: Mapping[str, object], defects: list[str]) -> Response:
                return repair_response(body, request, model=model, new_id=self.new_id, clock=self.clock, store=store,
                                       defects=defects)
            native = partial(answer_native, repair=repair, upstream=route.upstream, request=upstream_request,
                             finished=finished, learn=learn, may_fall_back=detecting)
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
                chat, _ = self._via_chat(request, route, request_id)
            except BridgeError as exc:  # the chat path's policy refuses what the native upstream might have served
                run.refused(exc)
                run.log.close()
                raise
            return await chat(run)

        return native_else_chat

    def _via_chat(self, request: Mapping[str, object], route: Route, request_id: str) -> tuple[Producer, bool]:
        """The request translated down to chat, and the producer that answers it (and whether it streams)."""
        dropped = self._policy(request)
        request = self.items.resolve(request)
        opts = route.options
        down = to_chat_request(request, default_model=self.settings.default_model, options=opts,
                               unseal=self.vault.open)
        for d in dropped + down.dropped:
            log.warning("dropped %s (%s)", d.param, d.reason)
        model = down.chat["model"]  # the client's name for it, which the Response echoes
        down.chat["model"] = route.model
        if opts.think_tags is True and model in self.closing_think_models:
            opts = replace(opts, think_tags="implicit")
        machine = StreamTranslator(request, model=model, new_id=self.new_id, clock=self.clock,
                                   options=opts, seal=self.vault.seal, store=False)
        streaming = bool(down.chat.get("stream"))
        produce = stream_via_chat if streaming else answer_via_chat
        return partial(produce, machine=machine, upstream=route.upstream, chat=down.chat,
                       finished=partial(self._finished, request, machine), request_id=request_id), streaming

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

    def _policy(self, request: Mapping[str, object]) -> list[Dropped]:
        """What the chat path does with the fields about server-side state: the bridge keeps none yet."""
        for name in ("previous_response_id", "conversation"):
            if request.get(name) is not None:
                raise InvalidRequest(
                    f"'{name}' needs stored responses, and this bridge keeps no store yet: send the whole history "
                    "as input items instead.", param=name, code="unsupported_parameter")
        if request.get("background"):
            raise InvalidRequest("'background' responses need a store, which this bridge does not keep yet.",
                                 param="background", code="unsupported_parameter")
        if request.get("store"):
            reason = "nothing is stored yet; the response says store: false"
            if self.settings.translate.strict:
                raise InvalidRequest(f"'store' is not supported by this bridge: {reason}.", param="store",
                                     code="unsupported_parameter")
            return [Dropped("store", reason)]
        return []

    def _finished_native(self, request: Mapping[str, object], response: Response) -> None:
        """A native answer's items stay resolvable too: should a later request go through chat (a defective
        upstream), an `item_reference` to them still resolves."""
        if request.get("store") is not False:
            self.items.put(response["output"])

    def _finished(self, request: Mapping[str, object], machine: StreamTranslator, response: Response) -> None:
        """Output items stay resolvable by `item_reference` unless the client said `store: false`; a model
        that closed a think block it never opened is remembered."""
        if request.get("store") is not False:
            self.items.put(response["output"])
        model = response["model"]
        if machine.closing_think_only and model not in self.closing_think_models:
            self.closing_think_models.add(model)
            log.info("model %s answers 'reasoning...</think>answer' (its chat template opens the think block): "
                     "its next streams are split into reasoning and text from the start", model)


def _count_tools(tools: object) -> int:
    if not isinstance(tools, list):
        return 0
    inner = [t.get("tools") for t in tools if isinstance(t, dict) and t.get("type") == "namespace"]
    return len(tools) + sum(len(group) for group in inner if isinstance(group, list))
