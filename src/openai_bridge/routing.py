"""Which upstream serves a model, how (chat, native Responses, or learn it), and in what dialect.

Without a config file there is one upstream, `default`, made of the environment settings, and every model
goes to it. With one (`BRIDGE_CONFIG`), a model goes to: the `[models.NAME]` table naming it (one upstream,
or several replicas), else the upstream whose `prefix` it starts with (the prefix is taken off), else the
first upstream listed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import BridgeError
from .settings import ModelConfig, Settings, UpstreamConfig, UpstreamMode, options_with
from .translate import Options
from .upstream.base import Upstream
from .upstream.detect import Verdicts
from .upstream.replicas import Replicas
from .wire.models import Model, ModelList

log = logging.getLogger("openai_bridge")

DEFAULT = "default"


@dataclass(frozen=True, slots=True)
class Route:
    model: str  # the name to send upstream: an alias resolved, a prefix taken off
    upstream: Upstream  # one server, or the replicas serving the model
    name: str  # the upstream's name (its replicas' names joined by "+"), for logs and verdicts
    mode: UpstreamMode
    options: Options  # how that upstream wants its chat requests shaped


class Router:
    def __init__(self, settings: Settings, upstreams: Mapping[str, Upstream], *,
                 verdicts: Verdicts | None = None) -> None:
        """`upstreams`: an Upstream per configured name (just `default` without a config file)."""
        self.settings = settings
        self.upstreams = dict(upstreams)
        self.verdicts = verdicts if verdicts is not None else Verdicts(settings.detect_ttl)
        self.configs: dict[str, UpstreamConfig] = {u.name: u for u in configured_upstreams(settings)}
        self.models: dict[str, ModelConfig] = {m.name: m for m in settings.models}
        self._first = next(iter(self.configs))
        # Every upstream, and every group of replicas, behind the retries it is owed (one object per group:
        # it counts the requests under way on each member).
        self._targets: dict[tuple[str, ...], Replicas] = {}
        for names in [(name,) for name in self.upstreams] + [m.upstreams for m in settings.models]:
            if names not in self._targets:
                self._targets[names] = Replicas([(n, self.upstreams[n]) for n in names])

    def route(self, model: str, client_key: str | None = None) -> Route:
        """Where `model` goes; with BRIDGE_FORWARD_CLIENT_KEY, authenticated with `client_key` (the client's
        bearer token) when it sent one."""
        found = self.models.get(model)
        if found is not None:
            names = found.upstreams
            upstream_model = found.upstream_model or model
        else:
            names = (self._by_prefix(model) or self._first,)
            prefix = self.configs[names[0]].prefix
            upstream_model = model.removeprefix(prefix) if prefix else model
        config = self.configs[names[0]]
        options = options_with(self.settings.translate, config.translate)
        mode = config.mode or self.settings.upstream_mode
        if found is not None:
            options = options_with(options, found.translate)
            mode = found.mode or mode
        upstream: Upstream = self._targets[tuple(names)]
        if client_key and self.settings.forward_client_key:
            upstream = upstream.with_key(client_key)
        return Route(upstream_model, upstream, "+".join(names), mode, options)

    async def model_list(self, client_key: str | None = None) -> ModelList:
        """Every upstream's models (a prefixed upstream's under their prefixed names), then the config file's
        models that no upstream listed. An upstream that fails is left out, with a warning; all failing is the
        first one's error."""
        names = list(self.upstreams)
        forward = client_key if self.settings.forward_client_key else None
        targets = [self.upstreams[n].with_key(forward) if forward else self.upstreams[n] for n in names]
        answers = await asyncio.gather(*(t.models() for t in targets), return_exceptions=True)
        data: list[Model] = []
        seen: set[str] = set()
        errors: list[BaseException] = []
        for name, answer in zip(names, answers, strict=True):
            if isinstance(answer, BaseException):
                if not isinstance(answer, BridgeError):
                    raise answer
                log.warning("upstream %s: its model list failed: %s", name, answer.message)
                errors.append(answer)
                continue
            config = self.configs.get(name)
            prefix = config.prefix or "" if config is not None else ""
            for model in answer.get("data", []):
                shown: Model = {**model, "id": prefix + str(model.get("id"))}
                if shown["id"] not in seen:
                    seen.add(shown["id"])
                    data.append(shown)
        if errors and len(errors) == len(names):
            raise errors[0]
        for name, routed in self.models.items():
            if name not in seen:
                data.append({"id": name, "object": "model", "created": 0, "owned_by": routed.upstreams[0]})
        return {"object": "list", "data": data}

    async def aclose(self) -> None:
        for upstream in self.upstreams.values():
            await upstream.aclose()

    def _by_prefix(self, model: str) -> str | None:
        matches = [c for c in self.configs.values() if c.prefix and model.startswith(c.prefix)]
        return max(matches, key=lambda c: len(c.prefix or "")).name if matches else None


def configured_upstreams(settings: Settings) -> tuple[UpstreamConfig, ...]:
    """The config file's upstreams, or the one the environment describes."""
    if settings.upstreams:
        return settings.upstreams
    return (UpstreamConfig(name=DEFAULT, base_url=settings.upstream, api_key=settings.api_key),)
