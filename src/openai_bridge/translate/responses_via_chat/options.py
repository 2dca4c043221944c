"""Settings of the translators: how a given upstream wants its chat requests shaped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class Options:
    # Role for `instructions`. Most chat templates know `system`; OpenAI also takes `developer`.
    instructions_role: Literal["system", "developer"] = "system"
    # Role that `developer` messages are sent as. Many open-model chat templates reject `developer`.
    developer_role: Literal["system", "developer"] = "system"
    # Which chat field carries `max_output_tokens`. `max_tokens` is understood by every server we know.
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    # Refuse (400) a field the bridge cannot honour, instead of dropping it with a warning.
    strict: bool = False
    # Join consecutive system messages into one (Codex sends two developer messages; many chat templates
    # accept a single leading system message only).
    merge_system: bool = True
    # Read a leading `<think>...</think>` in content as reasoning.
    think_tags: bool = True
    # Send earlier reasoning back on the assistant message it preceded, under this chat field
    # (`reasoning_content` for DeepSeek/Kimi/GLM-style servers); "" drops it, which most templates want.
    reasoning_back: str = ""
    # Responses fields the upstream accepts under the same chat name (e.g. an OpenAI upstream:
    # `service_tier`, `safety_identifier`, `prompt_cache_key`, `verbosity`); others are dropped and logged.
    passthrough: frozenset[str] = frozenset()
