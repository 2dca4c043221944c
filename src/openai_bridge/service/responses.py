"""Creating a response: the bridge's policy decisions, the translation down, and the run that answers."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from functools import partial

from ..errors import InvalidRequest, ServerShuttingDown
from ..ids import now, random_id
from ..runs.run import Run
from ..runs.via_chat import answer_via_chat, stream_via_chat
from ..settings import Settings
from ..store.items import ItemCache
from ..translate import Dropped, StreamTranslator, to_chat_request
from ..upstream.base import Upstream
from ..vault import ReasoningVault
from ..wire.responses import Response

log = logging.getLogger("openai_bridge")
_SHUTTING_DOWN = "The bridge is shutting down and this response could not finish in time; send the request again."


class ResponsesService:
    def __init__(self, settings: Settings, upstream: Upstream, *, vault: ReasoningVault, items: ItemCache,
                 new_id: Callable[[str], str] = random_id, clock: Callable[[], int] = now) -> None:
        self.settings = settings
        self.upstream = upstream
        self.vault = vault
        self.items = items
        self.new_id = new_id
        self.clock = clock
        self.runs: set[Run] = set()  # those under way
        self.shut = False

    def create(self, request: Mapping[str, object], request_id: str = "-") -> Run:
        """Start answering `request` (a parsed create body). Raises `InvalidRequest` for a request the
        bridge refuses, `ServerShuttingDown` once `shut_down` was called; else the run is under way
        (`run.task`, `run.log`)."""
        if self.shut:
            raise ServerShuttingDown(_SHUTTING_DOWN)
        dropped = self._policy(request)
        request = self.items.resolve(request)
        opts = self.settings.translate
        down = to_chat_request(request, default_model=self.settings.default_model, options=opts,
                               unseal=self.vault.open)
        for d in dropped + down.dropped:
            log.warning("request %s: dropped %s (%s)", request_id, d.param, d.reason)
        machine = StreamTranslator(request, model=down.chat["model"], new_id=self.new_id, clock=self.clock,
                                   options=opts, seal=self.vault.seal, store=False)
        streaming = bool(down.chat.get("stream"))
        produce = stream_via_chat if streaming else answer_via_chat
        run = Run(partial(produce, machine=machine, upstream=self.upstream, chat=down.chat,
                          finished=partial(self._remember, request), request_id=request_id), streaming=streaming)
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
        """What this bridge does with the fields about server-side state: it keeps none yet."""
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

    def _remember(self, request: Mapping[str, object], response: Response) -> None:
        """Output items stay resolvable by `item_reference` unless the client said `store: false`."""
        if request.get("store") is not False:
            self.items.put(response["output"])
