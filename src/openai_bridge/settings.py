"""Settings: the environment and the command line -> one validated, typed `Settings`, once, at start.

A bad value stops the start: `load()` raises `SettingsError`, whose lines each name the variable (or
flag), the value and what is allowed; the CLI prints them and exits with status 2, without a traceback.
pydantic does the parsing and the checks; this module maps each variable to its field and back.
"""

from __future__ import annotations

import argparse
import os
import re
import textwrap
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from . import __version__
from .translate import Options

# Request fields that an upstream may be configured to take under the same name (BRIDGE_PASSTHROUGH).
PASSTHROUGH_FIELDS = ("service_tier", "safety_identifier", "prompt_cache_key", "prompt_cache_retention", "verbosity")


class Timeouts(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    connect: float = Field(10.0, gt=0, allow_inf_nan=False)
    # Until the upstream's first byte: a large prompt on a CPU server can take minutes.
    first_byte: float = Field(600.0, gt=0, allow_inf_nan=False)
    # Silence between two chunks of a stream.
    idle: float = Field(300.0, gt=0, allow_inf_nan=False)


class Limits(BaseModel):
    """What a request may be: bigger ones are refused with an error naming the limit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # The request body, as sent and once decompressed.
    max_body_mb: int = Field(64, ge=1, le=4096)
    # Nesting of objects and arrays in the request body (a tool's JSON schema nests, but not this deep).
    max_json_depth: int = Field(64, ge=8, le=512)
    max_input_items: int = Field(10_000, ge=1)
    max_tools: int = Field(512, ge=1)


# How the bridge talks to an upstream: `chat` translates to Chat Completions; `responses` passes Responses
# requests straight through (and translates chat requests up to it); `auto` learns which the upstream serves.
UpstreamMode = Literal["auto", "chat", "responses"]


class UpstreamConfig(BaseModel):
    """One model server, from the config file (or, without one, from the environment alone)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    base_url: str
    api_key: str | None = None
    mode: UpstreamMode | None = None  # None: BRIDGE_UPSTREAM_MODE
    timeouts: Timeouts | None = None  # None: the BRIDGE_UPSTREAM_*TIMEOUT settings
    # Models named `<prefix><name>` go to this upstream as `<name>`, e.g. "ollama/" for "ollama/qwen3".
    prefix: str | None = None
    # How this upstream wants its chat requests shaped; unset fields follow the BRIDGE_* settings.
    translate: dict[str, object] = Field(default_factory=dict)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, url: str) -> str:
        return normalize_base_url(url)


class ModelConfig(BaseModel):
    """A model the config file routes: to one upstream, or several replicas serving it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    upstreams: tuple[str, ...] = Field(min_length=1)
    # The name the upstream knows it by (an alias), when not `name`.
    upstream_model: str | None = None
    mode: UpstreamMode | None = None
    translate: dict[str, object] = Field(default_factory=dict)


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # The chat server's base URL, which /chat/completions and /models follow (see `normalize_base_url`).
    upstream: str = "http://127.0.0.1:8000/v1"
    api_key: str | None = None
    default_model: str | None = None
    host: str = Field("127.0.0.1", min_length=1)
    port: int = Field(8099, ge=1, le=65535)
    workers: int = Field(1, ge=1, le=256)
    timeouts: Timeouts = Timeouts()
    # An SSE comment goes out after this many seconds without an event.
    keepalive: float = Field(5.0, gt=0, allow_inf_nan=False)
    # On SIGINT/SIGTERM, running responses get this long to finish; then they end with `response.failed`.
    shutdown_grace: float = Field(10.0, ge=0, allow_inf_nan=False)
    translate: Options = Options()
    limits: Limits = Limits()
    log_level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    # Secret for sealing reasoning into `encrypted_content`; else a key file in `state_dir`.
    reasoning_key: str | None = None
    state_dir: Path = Path.home() / ".local" / "state" / "openai-bridge"
    upstream_mode: UpstreamMode = "auto"
    # How long a learned verdict (does this upstream serve /responses for this model?) is trusted.
    detect_ttl: float = Field(600.0, gt=0, allow_inf_nan=False)
    # Send the client's own bearer token upstream instead of `api_key`.
    forward_client_key: bool = False
    # The keys clients must present (Authorization: Bearer); empty: no key is asked for.
    api_keys: frozenset[str] = frozenset()
    # From the config file (BRIDGE_CONFIG); without one, a single upstream made of the settings above.
    upstreams: tuple[UpstreamConfig, ...] = ()
    models: tuple[ModelConfig, ...] = ()
    # Where stored responses and conversations live: None is `store.sqlite3` in `state_dir` (see store/open.py).
    store: str | None = None
    # Redis, for the live state of background runs that replicas share; None: kept in `store`.
    redis_url: str | None = None
    # Stored objects older than this are deleted; 30 days, as OpenAI keeps stored responses.
    store_ttl: float = Field(30 * 86400.0, gt=0, allow_inf_nan=False)

    @field_validator("upstream")
    @classmethod
    def _upstream_url(cls, url: str) -> str:
        return normalize_base_url(url)

    @field_validator("store")
    @classmethod
    def _store(cls, url: str | None) -> str | None:
        if url is None or url == "memory":
            return url
        parts = urlsplit(url)
        if parts.scheme == "sqlite" and parts.path not in ("", "/") and not parts.netloc:
            return url
        if parts.scheme in ("postgresql", "postgres"):  # without a host: the local socket, as libpq does
            return url
        raise ValueError("not a store URL")

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, url: str | None) -> str | None:
        if url is None:
            return url
        parts = urlsplit(url)
        if parts.scheme in ("redis", "rediss") and parts.hostname or parts.scheme == "unix" and parts.path:
            return url
        raise ValueError("not a redis:// URL")


class Expected(ValueError):
    """A bad value whose `SettingsError` line says what to use instead of what is allowed in general."""


# Paths the bridge adds to the base URL: a base URL ending in one is an endpoint's URL, copied from a curl line.
ENDPOINTS = ("/chat/completions", "/completions", "/responses")


def normalize_base_url(url: str) -> str:
    """`http://host:8000`, `http://host:8000/` and `http://host:8000/v1` all mean `http://host:8000/v1`: a URL
    without a path gets the `/v1` that vLLM, llama.cpp, Ollama and OpenAI serve under. A URL with a path is
    taken as it is: `https://openrouter.ai/api/v1`, Gemini's `.../v1beta/openai` or z.ai's `.../api/paas/v4`
    work as their providers write them (adding /v1 to them would call routes that do not exist)."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an http:// or https:// URL with a host")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number or out of range
    except ValueError as exc:
        raise ValueError(f"bad port ({exc})") from exc
    endpoint = next((e for e in ENDPOINTS if parts.path.endswith(e)), None)
    if endpoint is not None:
        base = normalize_base_url(urlunsplit(parts._replace(path=parts.path.removesuffix(endpoint))))
        raise Expected(f"the base URL, without {endpoint} (the bridge adds it): {base!r}")
    if not parts.path:
        url += "/v1"
    return url


def shown_url(url: str) -> str:
    """`url` fit for a log line or an error message: a password in it (`user:password@`, or a `password=` in
    the query, as Postgres and Redis URLs may have) becomes `***`."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # not a URL that can be taken apart: say nothing of it
        return "(hidden)"
    if password is not None:
        host = parts.netloc.rpartition("@")[2]
        parts = parts._replace(netloc=f"{parts.username or ''}:***@{host}")
    if "password=" in parts.query.lower():
        parts = parts._replace(query=re.sub(r"(?i)(^|&)(password=)[^&]*", r"\1\2***", parts.query))
    elif password is None:
        return url  # as written (urlunsplit would drop the empty host of sqlite:///path)
    return urlunsplit(parts)


class SettingsError(Exception):
    """Bad values; `str()` is one line per value, each naming where it came from and what is allowed."""


@dataclass(frozen=True, slots=True)
class _Source:
    env: str
    flag: str | None
    path: tuple[str, ...]  # the field, as pydantic's error `loc` names it
    allowed: str
    meaning: str
    secret: bool = False
    url: bool = False  # a URL that may hold a password: shown with it hidden
    shown_default: str | None = None  # when the field's own default (None, a path) would not say it


_SECONDS = "a number of seconds greater than 0"
_BOOL = "1 or 0 (or true/false, yes/no, on/off)"
SOURCES: tuple[_Source, ...] = (
    _Source("REMOTE_OPENAI_BASE_URL", "--upstream", ("upstream",),
            "an http:// or https:// URL with a host (/v1 is added to one without a path)",
            "the chat server's base URL"),
    _Source("REMOTE_OPENAI_API_KEY", None, ("api_key",), "any string",
            "the key sent upstream as 'Authorization: Bearer ...'", secret=True),
    _Source("DEFAULT_MODEL", "--default-model", ("default_model",), "a model name",
            "the model for requests that name none"),
    _Source("BRIDGE_HOST", "--host", ("host",), "an IP address or host name",
            "the address to listen on (0.0.0.0 or :: for every interface)"),
    _Source("BRIDGE_PORT", "--port", ("port",), "an integer from 1 to 65535", "the port to listen on"),
    _Source("BRIDGE_WORKERS", "--workers", ("workers",), "an integer from 1 to 256", "worker processes"),
    _Source("BRIDGE_LOG_LEVEL", "--log-level", ("log_level",), "debug, info, warning, error or critical",
            "the least severe log lines written (debug adds a line per /healthz)"),
    _Source("BRIDGE_UPSTREAM_CONNECT_TIMEOUT", None, ("timeouts", "connect"), _SECONDS,
            "time allowed to connect to the upstream"),
    _Source("BRIDGE_UPSTREAM_TIMEOUT", None, ("timeouts", "first_byte"), _SECONDS,
            "time allowed until the upstream's first byte (and, unless BRIDGE_UPSTREAM_IDLE_TIMEOUT is set, "
            "between two chunks)"),
    _Source("BRIDGE_UPSTREAM_IDLE_TIMEOUT", None, ("timeouts", "idle"), _SECONDS,
            "silence allowed between two chunks of an upstream stream"),
    _Source("BRIDGE_KEEPALIVE", None, ("keepalive",), _SECONDS,
            "an SSE comment ': keepalive' goes to the client after this long without an event"),
    _Source("BRIDGE_SHUTDOWN_GRACE", None, ("shutdown_grace",), "a number of seconds, 0 or more",
            "on SIGINT or SIGTERM, the time responses under way get to finish"),
    _Source("BRIDGE_STRICT", None, ("translate", "strict"), _BOOL,
            "1: a request field the bridge cannot honour is refused with a 400 naming it (0: dropped, with a "
            "warning in the log)"),
    _Source("BRIDGE_INSTRUCTIONS_ROLE", None, ("translate", "instructions_role"), "system or developer",
            "the chat role that 'instructions' are sent as"),
    _Source("BRIDGE_DEVELOPER_ROLE", None, ("translate", "developer_role"), "system or developer",
            "the chat role that developer messages are sent as (most open-model chat templates reject "
            "'developer')"),
    _Source("BRIDGE_MAX_TOKENS_FIELD", None, ("translate", "max_tokens_field"),
            "max_tokens or max_completion_tokens", "the chat field that 'max_output_tokens' is sent as"),
    _Source("BRIDGE_THINK_TAGS", None, ("translate", "think_tags"), _BOOL + ", or implicit",
            "1: a leading <think>...</think> in the content is reasoning (and a model seen answering "
            "'reasoning...</think>answer' has its later streams split too); implicit: every answer starts "
            "inside the block; 0: no tags"),
    _Source("BRIDGE_MERGE_SYSTEM", None, ("translate", "merge_system"), _BOOL,
            "1: consecutive system messages are joined into one (many chat templates take a single one)"),
    _Source("BRIDGE_REASONING_BACK", None, ("translate", "reasoning_back"),
            "empty, reasoning_content or reasoning",
            "the chat field that earlier reasoning is sent back in (reasoning_content: DeepSeek, Kimi, GLM; "
            "reasoning: OpenRouter, Ollama); empty drops it", shown_default="empty"),
    _Source("BRIDGE_PASSTHROUGH", None, ("translate", "passthrough"),
            "comma-separated names among " + ", ".join(PASSTHROUGH_FIELDS),
            "request fields the upstream takes under the same name (others of these are dropped with a warning)",
            shown_default="empty"),
    _Source("BRIDGE_CONTEXT_WINDOW", None, ("translate", "context_window"), "an integer number of tokens, 0 or more",
            "the model's context window: with truncation: \"auto\", the oldest turns of a history rebuilt from "
            "previous_response_id or a conversation are dropped to fit it (0: the window the upstream's model "
            "list reports, as vLLM's max_model_len, where it does; else nothing is dropped); set it per model in "
            "the config file"),
    _Source("BRIDGE_MAX_BODY_MB", None, ("limits", "max_body_mb"), "an integer number of megabytes from 1 to 4096",
            "the largest request body, as sent and once decompressed (413 above it)"),
    _Source("BRIDGE_MAX_JSON_DEPTH", None, ("limits", "max_json_depth"), "an integer from 8 to 512",
            "the deepest nesting of objects and arrays in a request body"),
    _Source("BRIDGE_MAX_INPUT_ITEMS", None, ("limits", "max_input_items"), "a positive integer",
            "the most input items in one request"),
    _Source("BRIDGE_MAX_TOOLS", None, ("limits", "max_tools"), "a positive integer",
            "the most tools in one request, counting those inside namespaces"),
    _Source("BRIDGE_CONFIG", "--config", ("config",), "the path of a TOML file",
            "several upstreams, routes from models to them, and settings per upstream and per model: see "
            "docs/settings.md", shown_default="none: one upstream, REMOTE_OPENAI_BASE_URL"),
    _Source("BRIDGE_UPSTREAM_MODE", None, ("upstream_mode",), "auto, chat or responses",
            "chat: Responses requests are translated to Chat Completions; responses: the upstream serves the "
            "Responses API and gets them as they are; auto: the bridge learns which, per upstream and model"),
    _Source("BRIDGE_DETECT_TTL", None, ("detect_ttl",), _SECONDS,
            "how long a learned verdict (does this upstream serve /responses for this model?) is trusted"),
    _Source("BRIDGE_FORWARD_CLIENT_KEY", None, ("forward_client_key",), _BOOL,
            "1: the client's own bearer token is sent upstream instead of REMOTE_OPENAI_API_KEY"),
    _Source("BRIDGE_API_KEYS", None, ("api_keys",), "comma-separated keys, or @FILE (one key per line)",
            "the keys clients must send (Authorization: Bearer KEY); a request without one of them gets a 401 "
            "(/healthz stays open)", secret=True, shown_default="none: no key is asked for"),
    _Source("BRIDGE_REASONING_KEY", None, ("reasoning_key",), "any string",
            "the secret that seals reasoning into 'encrypted_content'; set the same one on every replica",
            secret=True, shown_default="reasoning.key in BRIDGE_STATE_DIR, made on first start"),
    _Source("BRIDGE_STATE_DIR", None, ("state_dir",), "a directory path",
            "where the bridge keeps its files (the generated reasoning key, the default store)",
            shown_default="~/.local/state/openai-bridge"),
    _Source("BRIDGE_STORE", None, ("store",),
            "sqlite:///ABSOLUTE/PATH, postgresql://USER:PASSWORD@HOST:PORT/DATABASE, or memory",
            "where stored responses, conversations and background runs are kept: an SQLite file (one machine; "
            "its workers share it), Postgres (several replicas), or memory (tests: lost at exit, one per worker)",
            url=True, shown_default="sqlite:///BRIDGE_STATE_DIR/store.sqlite3"),
    _Source("BRIDGE_REDIS_URL", None, ("redis_url",), "redis://[:PASSWORD@]HOST:PORT/DB or rediss://...",
            "Redis for what replicas share while a background run runs (its stream events, its cancel signal, its "
            "heartbeat); "
            "without it they are kept in BRIDGE_STORE", url=True),
    _Source("BRIDGE_STORE_TTL", None, ("store_ttl",), _SECONDS,
            "stored responses (and conversations unchanged for) older than this are deleted; "
            "2592000 is 30 days"),
)


def default_of(src: _Source) -> str:
    """The default of a setting, as a user would write it."""
    if src.shown_default is not None:
        return src.shown_default
    value: object = Settings()
    for name in src.path:
        value = getattr(value, name)
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def from_env(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment alone (`os.environ` when `env` is None)."""
    return load([], env)


def load(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment, overridden by command-line flags. Raises `SettingsError`."""
    env = os.environ if env is None else env
    given: dict[_Source, tuple[str, str]] = {}  # source -> (where it came from, the value)
    for src in SOURCES:
        value = env.get(src.env, "")
        if value.strip():  # an empty variable is an unset one
            given[src] = (src.env, value)
    first_byte, idle = _by_env("BRIDGE_UPSTREAM_TIMEOUT"), _by_env("BRIDGE_UPSTREAM_IDLE_TIMEOUT")
    if first_byte in given and idle not in given:  # one timeout for both, unless the idle one is set apart
        given[idle] = given[first_byte]
    flags = _parse_flags(argv)
    for src in SOURCES:
        if src.flag is not None and getattr(flags, _dest(src.flag)) is not None:
            given[src] = (src.flag, getattr(flags, _dest(src.flag)))

    data: dict[str, object] = {}
    problems: list[str] = []
    for src, (where, value) in given.items():
        parsed: object = value.strip() if not src.secret else value
        if src.path == ("config",):
            try:
                data.update(read_config(Path(value.strip()), env))
            except SettingsError as exc:
                joiner = " " if where.startswith("--") else "="
                problems += [f"{where}{joiner}{value.strip()}: {line}" for line in str(exc).splitlines()]
            continue
        if src.path == ("api_keys",):
            try:
                parsed = client_keys(value)
            except OSError as exc:
                problems.append(f"{where}: cannot read {value.strip()[1:]}: {exc.strerror or exc}")
                continue
            if not parsed:
                problems.append(f"{where} names no key")
                continue
        if src.path == ("translate", "passthrough"):
            names = [n.strip() for n in value.split(",") if n.strip()]
            if any(n not in PASSTHROUGH_FIELDS for n in names):
                problems.append(_line(src, where, value))
                continue
            parsed = frozenset(names)
        node = data
        for key in src.path[:-1]:
            child = node.setdefault(key, {})
            assert isinstance(child, dict)
            node = child
        node[src.path[-1]] = parsed
    if problems:
        raise SettingsError("\n".join(problems))
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            loc = tuple(error["loc"])  # a union's error adds the member tried: ("translate", "think_tags", "bool")
            culprit = next((s for s in given if loc[:len(s.path)] == s.path), None)
            if culprit is None:  # not from a variable: a bug of ours, not the user's
                raise
            reason = error.get("ctx", {}).get("error")
            lines.append(_line(culprit, *given[culprit], str(reason) if isinstance(reason, Expected) else None))
        raise SettingsError("\n".join(dict.fromkeys(lines))) from None


def client_keys(value: str) -> frozenset[str]:
    """The keys of BRIDGE_API_KEYS: comma-separated, or `@FILE` with one per line (blank lines and `#`
    comments skipped). Raises OSError for a file that cannot be read."""
    value = value.strip()
    if value.startswith("@"):
        lines = Path(value[1:]).read_text().splitlines()
        return frozenset(k for line in lines if (k := line.strip()) and not k.startswith("#"))
    return frozenset(k for part in value.split(",") if (k := part.strip()))


def read_config(path: Path, env: Mapping[str, str]) -> dict[str, object]:
    """The config file's upstreams and models, as `Settings` fields; a key named by `api_key_env` is read
    from the environment here. Raises `SettingsError`, one line per problem."""
    try:
        doc = tomllib.loads(path.read_text())
    except OSError as exc:
        raise SettingsError(f"cannot read it: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"not valid TOML: {exc}") from None
    problems = [f"unknown key '{key}' (expected upstreams, models)" for key in doc
                if key not in ("upstreams", "models")]
    upstreams: list[UpstreamConfig] = []
    for name, table in _tables(doc, "upstreams", problems):
        key_env = table.pop("api_key_env", None)
        if key_env is not None:
            if not isinstance(key_env, str) or not env.get(key_env):
                problems.append(f"upstreams.{name}.api_key_env: the variable {key_env!r} is not set")
                continue
            table["api_key"] = env[key_env]
        upstream = _validated(UpstreamConfig, f"upstreams.{name}", {"name": name, **table}, problems)
        if upstream is not None:
            upstreams.append(upstream)
    models: list[ModelConfig] = []
    for name, table in _tables(doc, "models", problems):
        model = _validated(ModelConfig, f"models.{name}", {"name": name, **table}, problems)
        if model is not None:
            models.append(model)
    if not upstreams and not problems:
        problems.append("no [upstreams.NAME] table: a config file lists at least one upstream")
    known = {u.name for u in upstreams}
    for model in models:
        problems += [f"models.{model.name}.upstreams: no upstream is named {name!r}"
                     for name in model.upstreams if name not in known]
    for where, overrides in [(f"upstreams.{u.name}", u.translate) for u in upstreams] + \
                            [(f"models.{m.name}", m.translate) for m in models]:
        try:
            options_with(Options(), overrides)
        except (TypeError, ValueError) as exc:
            problems.append(f"{where}.translate: {exc}")
    if problems:
        raise SettingsError("\n".join(problems))
    return {"upstreams": tuple(upstreams), "models": tuple(models)}


def options_with(base: Options, overrides: Mapping[str, object]) -> Options:
    """`base` with the fields a config table sets (a list of passthrough names becomes a set)."""
    if not overrides:
        return base
    fields = {k: frozenset(v) if k == "passthrough" and isinstance(v, list) else v for k, v in overrides.items()}
    return replace(base, **fields)  # type: ignore[arg-type]  # checked by Options.__post_init__ and replace()


def _tables(doc: Mapping[str, object], key: str, problems: list[str]) -> list[tuple[str, dict[str, object]]]:
    section = doc.get(key, {})
    if not isinstance(section, dict):
        problems.append(f"{key}: expected tables [{key}.NAME]")
        return []
    found = []
    for name, table in section.items():
        if isinstance(table, dict):
            found.append((name, dict(table)))
        else:
            problems.append(f"{key}.{name}: expected a table")
    return found


def _validated[M: BaseModel](model: type[M], where: str, data: dict[str, object], problems: list[str]) -> M | None:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = ".".join(str(part) for part in error["loc"])
            problems.append(f"{where}.{loc}: {error['msg']}")
        return None


def _line(src: _Source, where: str, value: str, expected: str | None = None) -> str:
    shown = "(hidden)" if src.secret else repr(shown_url(value) if src.url else value)
    joiner = " " if where.startswith("--") else "="
    return f"{where}{joiner}{shown} is not valid: expected {expected or src.allowed}"


def _by_env(name: str) -> _Source:
    return next(s for s in SOURCES if s.env == name)


def _dest(flag: str) -> str:
    return flag.removeprefix("--").replace("-", "_")


def _parse_flags(argv: Sequence[str] | None) -> argparse.Namespace:
    description = ("Serve the OpenAI Responses API in front of a Chat Completions server. Every setting is an "
                   "environment variable; the common ones are flags too, which win over the environment. An empty "
                   "variable counts as unset. `openai-bridge probe` checks what an upstream supports and suggests "
                   "the settings that fit it (openai-bridge probe --help).")
    p = argparse.ArgumentParser(
        prog="openai-bridge", description=textwrap.fill(description, 100), epilog=_env_only_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"openai-bridge {__version__}")
    for src in SOURCES:
        if src.flag is not None:
            p.add_argument(src.flag, metavar=src.path[-1].upper(),
                           help=f"{src.meaning} [{src.env}; default: {default_of(src)}; values: {src.allowed}]")
    return p.parse_args(argv)


def _env_only_help() -> str:
    lines = ["settings without a flag (environment variables):"]
    for src in SOURCES:
        if src.flag is None:
            lines.append(f"  {src.env} (default: {default_of(src)})")
            for text in (src.meaning, "values: " + src.allowed):
                lines += textwrap.wrap(text, 100, initial_indent=" " * 6, subsequent_indent=" " * 8)
    return "\n".join(lines)
