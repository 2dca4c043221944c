"""Creating a chat completion: passed through to an upstream that serves chat, or translated to the
Responses API of one that serves only that.

The route's mode decides: `chat` passes through; `responses` translates; `auto` passes through unless the
upstream is known to have no /chat/completions, and learns that from its 404 or 405 there (then this request
and the next ones are translated, for `BRIDGE_DETECT_TTL` seconds). A chat upstream is always preferred when
it serves chat: a pass-through changes nothing, a translation may.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from functools import partial
from typing import cast

from ..errors import InvalidRequest, ServerShuttingDown
from ..ids import now, random_id
from ..routing import Route, Router
from ..runs.chat import ChatPlan, ChatRun, ViaResponses, answer_chat, stream_chat
from ..settings import Settings
from ..translate import to_responses_request
from ..translate.model import requested_model
from ..wire.chat import ChatRequest

log = logging.getLogger("openai_bridge")
_SHUTTING_DOWN = ("The bridge is shutting down and this completion could not finish in time; send the request "
                  "again.")


class ChatService:
    def __init__(self, settings: Settings, router: Router, *, new_id: Callable[[str], str] = random_id,
                 clock: Callable[[], int] = now) -> None:
        self.settings = settings
        self.router = router
        self.new_id = new_id
        self.clock = clock
        self.runs: set[ChatRun] = set()  # those under way
        self.shut = False

    def create(self, body: Mapping[str, object], request_id: str = "-", *, client_key: str | None = None) -> ChatRun:
        """Start answering `body` (a parsed chat completions request). Raises `InvalidRequest` for a request
        refused before anything goes upstream, `ServerShuttingDown` once `shut_down` was called."""
        if self.shut:
            raise ServerShuttingDown(_SHUTTING_DOWN)
        model = requested_model(body, self.settings.default_model)
        stream = body.get("stream")
        if stream is not None and not isinstance(stream, bool):
            raise InvalidRequest("'stream' must be a boolean.", param="stream")
        route = self.router.route(model, client_key)
        translate: Callable[[], ViaResponses] = partial(self._translate, body, route, model)
        if route.mode == "responses" or (
                route.mode == "auto" and self.router.verdicts.chat_served(route.name) is False):
            translate = _once(translate())  # a request the translation refuses is a 400 here and now
            chat = None
        else:
            # Transparent: the client's body as it came (unknown fields too), only the upstream's model name.
            chat = cast(ChatRequest, {**body, "model": route.model})
        learn = partial(self.router.verdicts.learn_chat, route.name, False,
                        "it has no /chat/completions but serves /responses") if route.mode == "auto" else _nothing
        plan = ChatPlan(route.upstream, chat, translate, learn, request_id)
        run = ChatRun(partial(stream_chat if stream else answer_chat, plan=plan), model=model, streaming=bool(stream))
        self.runs.add(run)
        run.task.add_done_callback(lambda _: self.runs.discard(run))
        return run

    def shut_down(self) -> int:
        """As `ResponsesService.shut_down`: end every run under way now (a stream with an error object, a
        non-stream answer with a 503), and refuse new ones. Returns how many it ended."""
        self.shut = True
        runs = list(self.runs)
        for run in runs:
            run.stop(ServerShuttingDown(_SHUTTING_DOWN))
        return len(runs)

    def _translate(self, body: Mapping[str, object], route: Route, model: str) -> ViaResponses:
        down = to_responses_request(body, default_model=self.settings.default_model, strict=route.options.strict)
        for d in down.dropped:
            log.warning("dropped %s (%s)", d.param, d.reason)
        down.request["model"] = route.model
        return ViaResponses(down.request, model, down.include_usage, self.new_id, self.clock)


def _once(via: ViaResponses) -> Callable[[], ViaResponses]:
    return lambda: via


def _nothing() -> None:
    pass
