"""What the bridge learned about its upstreams: does an upstream serve the Responses API for a model?

In `auto` mode the answer is learned from real traffic (a 404/405/501 on `/responses` says no; a proper
answer says yes) or from `openai-bridge probe`, and trusted for `ttl` seconds.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable

from ..errors import BridgeError, UpstreamError

log = logging.getLogger("openai_bridge")


class Verdicts:
    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._native: dict[tuple[str, str], tuple[bool, float]] = {}  # (upstream, model) -> (verdict, expiry)
        # The chat direction's question: does the upstream serve /chat/completions at all? (An upstream that
        # serves only Responses answers 404 or 405 there.) upstream -> (verdict, expiry)
        self._chat: dict[str, tuple[bool, float]] = {}

    def native(self, upstream: str, model: str) -> bool | None:
        """True: serve `model` on `upstream` through its own /responses; False: through chat; None: not known
        (or no longer trusted)."""
        found = self._native.get((upstream, model))
        if found is None:
            return None
        verdict, expires = found
        if self.clock() >= expires:
            del self._native[(upstream, model)]
            return None
        return verdict

    def learn(self, upstream: str, model: str, native: bool, why: str) -> None:
        """Remember a verdict; a new or changed one is logged, with its reason."""
        known = self._native.get((upstream, model))
        self._native[(upstream, model)] = (native, self.clock() + self.ttl)
        if known is None or known[0] != native:
            log.info("upstream %s, model %s: %s (%s); trusted for %g s", upstream, model,
                     "served through its own /responses" if native else "served through chat completions",
                     why, self.ttl)

    def chat_served(self, upstream: str) -> bool | None:
        """True: `upstream` serves /chat/completions; False: it has no such route (a Responses-only server),
        so chat requests go to its /responses, translated; None: not known (or no longer trusted). Per upstream,
        not per model: a missing route is the server's, whatever the model."""
        found = self._chat.get(upstream)
        if found is None:
            return None
        if self.clock() >= found[1]:
            del self._chat[upstream]
            return None
        return found[0]

    def learn_chat(self, upstream: str, served: bool, why: str) -> None:
        known = self._chat.get(upstream)
        self._chat[upstream] = (served, self.clock() + self.ttl)
        if known is None or known[0] != served:
            log.info("upstream %s: chat completions %s (%s); trusted for %g s", upstream,
                     "passed through to its /chat/completions" if served else "translated to its /responses",
                     why, self.ttl)

# An upstream's words for "I have no such endpoint / cannot do that": vLLM, Ollama, LM Studio, proxies.
_UNSUPPORTED = re.compile(r"not (?:supported|implemented|available)|unsupported|unknown (?:endpoint|url|route|path)"
                          r"|no route|invalid url|not found", re.IGNORECASE)


def unsupported(error: BridgeError) -> bool:
    """Does `error`, the answer to a request on `/responses`, say the upstream does not serve that API (so the
    same request may go through chat instead, nothing having been generated)? A 404 of the route (not of an
    unknown model), 405 or 501; or a 400/422 whose message says the endpoint or feature is unsupported."""
    status = error.upstream_status if isinstance(error, UpstreamError) else None
    if status in (405, 501) or (status == 404 and error.code == "upstream_not_found"):
        return True
    return status in (400, 422) and bool(_UNSUPPORTED.search(error.message))
