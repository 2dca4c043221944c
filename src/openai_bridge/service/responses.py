"""Creating a response: the bridge's policy decisions, the translation down, and the run that answers."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial

from ..errors import InvalidRequest, ServerShuttingDown
from ..ids import now, random_id
from ..routing import Router, requested_model
from ..runs.run import Run
from ..runs.via_chat import answer_via_chat, stream_via_chat
from ..settings import Settings
from ..store.items import ItemCache
from ..translate import Dropped, StreamTranslator, to_chat_request
from ..vault import ReasoningVault
from ..wire.responses import Response

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
        dropped = self._policy(request)
        request = self.items.resolve(request)
        route = self.router.route(requested_model(request, self.settings.default_model), client_key)
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
        run = Run(partial(produce, machine=machine, upstream=route.upstream, chat=down.chat,
                          finished=partial(self._finished, request, machine), request_id=request_id),
                  model=model, streaming=streaming)
        self.runs.add(run)
        run.task.add_done_callback(lambda _: self.runs.discard(run))
        return run

    def shut_down(self) -> int:
        """The bridge is stopping and the grace period is over: end every run under way now (a stream with
        `response.failed`, a non-stream answer with a 503), and refuse new ones. Returns how many it ended."""
        self.shut = True
        runs = list(self.runs)
        for run in runs:
            run.stop(ServerShuttingDown(_SHUTTING_DOWN))
        return len(runs)

    def _policy(self, request: Mapping[str, object]) -> list[Dropped]:
        """This bridge's limits, and what it does with the fields about server-side state: it keeps none yet."""
        limits = self.settings.limits
        items = request.get("input")
        if isinstance(items, list) and len(items) > limits.max_input_items:
            raise InvalidRequest(f"'input' has {len(items)} items; this bridge takes at most {limits.max_input_items} "
                                 "(BRIDGE_MAX_INPUT_ITEMS).", param="input", code="too_many_input_items")
        tools = _count_tools(request.get("tools"))
        if tools > limits.max_tools:
            raise InvalidRequest(f"'tools' has {tools} tools (counting those inside namespaces); this bridge takes at "
                                 f"most {limits.max_tools} (BRIDGE_MAX_TOOLS).", param="tools", code="too_many_tools")
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
