"""The context window an upstream reports for a model, in its model list (`GET /models`), for
`truncation: "auto"` where the configuration names none: vLLM and SGLang list `max_model_len`, Groq
`context_window`, OpenRouter and LM Studio `context_length`. (llama.cpp lists only the model's training
context, `meta.n_ctx_train`, which the server often runs smaller: not taken. Ollama lists none.)"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from ..errors import BridgeError
from ..wire.models import ModelList
from .base import Upstream

log = logging.getLogger("openai_bridge")

FIELDS = ("max_model_len", "context_window", "context_length")


def reported_window(models: ModelList, model: str) -> int | None:
    """The context window `models` gives for `model`, if any."""
    for entry in models.get("data", []):
        if isinstance(entry, dict) and entry.get("id") == model:
            for name in FIELDS:
                value = entry.get(name)
                if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                    return value
    return None


class ContextWindows:
    """What each upstream reported for each model, asked once and kept `ttl` seconds (that it reported nothing,
    or that its model list failed, too: a request that could use it does not wait on a failing list each time)."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._known: dict[tuple[str, str], tuple[int | None, float]] = {}

    async def get(self, name: str, model: str, upstream: Upstream) -> int | None:
        known = self._known.get((name, model))
        if known is not None and self.clock() - known[1] < self.ttl:
            return known[0]
        try:
            window = reported_window(await upstream.models(), model)
        except BridgeError as exc:
            log.warning("upstream %s: its model list failed, so the context window of %s is not known: %s",
                        name, model, exc.message)
            window = None
        self._known[(name, model)] = (window, self.clock())
        return window
