"""Settings of the translators: how a given upstream wants its chat requests shaped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

Role = Literal["system", "developer"]
MaxTokensField = Literal["max_tokens", "max_completion_tokens"]
# "" drops earlier reasoning; the others name the assistant-message field it goes back in.
ReasoningBack = Literal["", "reasoning_content", "reasoning"]
# True: a leading `<think>...</think>` block in content is reasoning; "implicit": the content starts inside
# such a block, whose `<think>` the chat template put in the prompt (R1-distill style); False: no tags.
ThinkTags = bool | Literal["implicit"]


@dataclass(frozen=True, slots=True)
class Options:
    # Role for `instructions`. Most chat templates know `system`; OpenAI also takes `developer`.
    instructions_role: Role = "system"
    # Role that `developer` messages are sent as. Many open-model chat templates reject `developer`.
    developer_role: Role = "system"
    # Which chat field carries `max_output_tokens`. `max_tokens` is understood by every server we know.
    max_tokens_field: MaxTokensField = "max_tokens"
    # Refuse (400) a field the bridge cannot honour, instead of dropping it with a warning.
    strict: bool = False
    # Join consecutive system messages into one (Codex sends two developer messages; many chat templates
    # accept a single leading system message only).
    merge_system: bool = True
    # Read think tags in content as reasoning (see `ThinkTags`).
    think_tags: ThinkTags = True
    # Send earlier reasoning back on the assistant message it preceded, under this chat field
    # (`reasoning_content` for DeepSeek/Kimi/GLM-style servers); "" drops it, which most templates want.
    reasoning_back: ReasoningBack = ""
    # Responses fields the upstream accepts under the same chat name (e.g. an OpenAI upstream:
    # `service_tier`, `safety_identifier`, `prompt_cache_key`, `verbosity`); others are dropped and logged.
    passthrough: frozenset[str] = frozenset()
    # The model's context window in tokens, for `truncation: "auto"` (the oldest turns of a rebuilt history
    # are dropped to fit it); 0: not known, nothing is dropped.
    context_window: int = 0

    def __post_init__(self) -> None:
        # The types are the translators' contract, but settings arrive as strings from the environment:
        # a value outside them (`reasoning_back="content"` would overwrite the assistant's text) stops here.
        for name, allowed in (("instructions_role", get_args(Role)), ("developer_role", get_args(Role)),
                              ("max_tokens_field", get_args(MaxTokensField)),
                              ("reasoning_back", get_args(ReasoningBack)),
                              ("think_tags", (True, False, "implicit"))):
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(f"Options.{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
        if not isinstance(self.context_window, int) or self.context_window < 0:
            raise ValueError("Options.context_window must be a number of tokens, 0 or more; "
                             f"got {self.context_window!r}")
