"""Settings, parsed once from the environment and the command line into one typed object."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from .translate.options import Options


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 10.0
    # Until the upstream's first byte: a large prompt on a CPU server can take minutes.
    first_byte: float = 600.0
    # Silence between two chunks of a stream.
    idle: float = 300.0


@dataclass(frozen=True, slots=True)
class Config:
    upstream: str = "http://127.0.0.1:8000/v1"
    api_key: str | None = None
    default_model: str | None = None
    host: str = "127.0.0.1"
    port: int = 8099
    workers: int = 1
    timeouts: Timeouts = field(default_factory=Timeouts)
    # An SSE comment goes out after this many seconds without an event.
    keepalive: float = 5.0
    translate: Options = field(default_factory=Options)
    log_level: str = "info"
    # Secret for sealing reasoning into `encrypted_content`; else a key file in `state_dir`.
    reasoning_key: str | None = None
    state_dir: Path = field(default_factory=lambda: Path.home() / ".local" / "state" / "openai-bridge")


def normalize_base_url(url: str) -> str:
    """`http://host:8000`, `http://host:8000/` and `http://host:8000/v1` all mean `.../v1`."""
    url = url.strip().rstrip("/")
    if not url.endswith("/v1"):
        url += "/v1"
    return url


def _bool(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def from_env(env: Mapping[str, str] | None = None) -> Config:
    """Read `REMOTE_OPENAI_BASE_URL`, `REMOTE_OPENAI_API_KEY`, `DEFAULT_MODEL` and `BRIDGE_*`."""
    e = os.environ if env is None else env
    cfg = Config()
    t = cfg.timeouts
    timeouts = Timeouts(
        connect=float(e.get("BRIDGE_UPSTREAM_CONNECT_TIMEOUT", t.connect)),
        first_byte=float(e.get("BRIDGE_UPSTREAM_TIMEOUT", t.first_byte)),
        idle=float(e.get("BRIDGE_UPSTREAM_IDLE_TIMEOUT", e.get("BRIDGE_UPSTREAM_TIMEOUT", t.idle))),
    )
    o = cfg.translate
    options = Options(
        instructions_role=e.get("BRIDGE_INSTRUCTIONS_ROLE", o.instructions_role),  # type: ignore[arg-type]
        developer_role=e.get("BRIDGE_DEVELOPER_ROLE", o.developer_role),  # type: ignore[arg-type]
        max_tokens_field=e.get("BRIDGE_MAX_TOKENS_FIELD", o.max_tokens_field),  # type: ignore[arg-type]
        strict=_bool(e.get("BRIDGE_STRICT", "0")),
        think_tags=_bool(e.get("BRIDGE_THINK_TAGS", "1")),
        merge_system=_bool(e.get("BRIDGE_MERGE_SYSTEM", "1")),
        reasoning_back=e.get("BRIDGE_REASONING_BACK", o.reasoning_back).strip(),
        passthrough=frozenset(n.strip() for n in e.get("BRIDGE_PASSTHROUGH", "").split(",") if n.strip()),
    )
    return replace(
        cfg,
        upstream=normalize_base_url(e.get("REMOTE_OPENAI_BASE_URL", cfg.upstream)),
        api_key=e.get("REMOTE_OPENAI_API_KEY") or None,
        default_model=e.get("DEFAULT_MODEL") or None,
        host=e.get("BRIDGE_HOST", cfg.host),
        port=int(e.get("BRIDGE_PORT", cfg.port)),
        workers=int(e.get("BRIDGE_WORKERS", cfg.workers)),
        keepalive=float(e.get("BRIDGE_KEEPALIVE", cfg.keepalive)),
        timeouts=timeouts,
        translate=options,
        log_level=e.get("BRIDGE_LOG_LEVEL", cfg.log_level),
        reasoning_key=e.get("BRIDGE_REASONING_KEY") or None,
        state_dir=Path(e["BRIDGE_STATE_DIR"]) if e.get("BRIDGE_STATE_DIR") else cfg.state_dir,
    )
