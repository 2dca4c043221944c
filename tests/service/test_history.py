"""The history a request stands on, as the chat upstream sees it: a chain rebuilt from the store, and with
`truncation: "auto"` and a known context window, its oldest turns dropped to fit (never the new input)."""

from __future__ import annotations

import asyncio
from typing import Any

from openai_bridge.ids import SequentialIds
from openai_bridge.routing import DEFAULT, Router
from openai_bridge.service.responses import ResponsesService
from openai_bridge.settings import Settings
from openai_bridge.store.memory import MemoryStore
from openai_bridge.store.open import StoreSlot
from openai_bridge.testing import FakeUpstream, answer
from openai_bridge.translate import Options
from openai_bridge.translate.history import conversation_turns
from openai_bridge.upstream.context import reported_window
from openai_bridge.vault import ReasoningVault
from openai_bridge.wire.models import ModelList

LONG = "x" * 3000  # ~1000 tokens by the bridge's estimate


def chat_of_third_turn(context_window: int, truncation: str | None,
                       up: FakeUpstream | None = None) -> list[dict[str, Any]]:
    """Three turns chained by previous_response_id, each with a long question; the third turn's chat messages."""
    up = up or FakeUpstream()
    up.push(answer("a1"), answer("a2"), answer("a3"))
    config = Settings(default_model="scripted-model", upstream_mode="chat",
                      translate=Options(context_window=context_window))
    service = ResponsesService(config, Router(config, {DEFAULT: up}), vault=ReasoningVault(b"k"),
                               store=StoreSlot(config, MemoryStore()), new_id=SequentialIds(), clock=lambda: 1)

    async def go() -> None:
        previous = None
        for n in (1, 2, 3):
            request: dict[str, Any] = {"input": f"q{n} {LONG}", "instructions": f"be brief {n}",
                                       "previous_response_id": previous, "max_output_tokens": 500}
            if truncation:
                request["truncation"] = truncation
            response = await (await service.create(request)).task
            previous = response["id"]

    asyncio.run(go())
    return up.calls[-1][1]["messages"]


def contents(messages: list[dict[str, Any]]) -> list[str]:
    out = []
    for m in messages:
        content = m["content"]
        text = content if isinstance(content, str) else "".join(p["text"] for p in content)
        out.append(f"{m['role']}:{text[:2]}")
    return out


def test_the_chain_is_the_whole_history_with_only_the_new_instructions():
    messages = chat_of_third_turn(0, "auto")  # no window known: nothing dropped
    assert contents(messages) == ["system:be", "user:q1", "assistant:a1", "user:q2", "assistant:a2", "user:q3"]
    assert messages[0]["content"] == "be brief 3"


def test_truncation_auto_drops_the_oldest_turns_to_fit_the_window():
    # Room for the new question and one earlier turn (each ~1000 tokens), with 500 kept for the answer.
    assert contents(chat_of_third_turn(2800, "auto")) == ["system:be", "user:q2", "assistant:a2", "user:q3"]
    # Not even one earlier turn fits: the new input still goes.
    assert contents(chat_of_third_turn(1600, "auto")) == ["system:be", "user:q3"]


def test_without_truncation_auto_nothing_is_dropped():
    for truncation in (None, "disabled"):
        assert len(chat_of_third_turn(1600, truncation)) == 6  # the upstream says whether it fits


def test_a_conversation_is_cut_into_turns_at_user_messages():
    items = [{"type": "message", "role": "system", "content": "s"},
             {"type": "message", "role": "user", "content": "q1"},
             {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
             {"type": "function_call_output", "call_id": "c", "output": "r"},
             {"type": "message", "role": "assistant", "content": "a1"},
             {"type": "message", "role": "user", "content": "q2"}]
    assert [len(t) for t in conversation_turns(items)] == [1, 4, 1]


class Reporting(FakeUpstream):
    """An upstream whose model list reports the model's context window, as vLLM's does (`max_model_len`)."""

    def __init__(self, window: int) -> None:
        super().__init__()
        self.window = window

    async def models(self) -> ModelList:
        listed = await super().models()
        return {**listed, "data": [{**m, "max_model_len": self.window} for m in listed["data"]]}


def test_truncation_auto_uses_the_window_the_upstream_reports_when_none_is_configured():
    up = Reporting(2800)
    assert contents(chat_of_third_turn(0, "auto", up)) == ["system:be", "user:q2", "assistant:a2", "user:q3"]
    # Asked once (turns 2 and 3 both needed it), and only for requests that have a history to cut.
    assert [name for name, _ in up.calls].count("models") == 1


def test_reported_window_fields():
    listed = {"object": "list", "data": [
        {"id": "a", "max_model_len": 8192}, {"id": "b", "context_window": 131072}, {"id": "c", "context_length": 4096},
        {"id": "d", "meta": {"n_ctx_train": 32768}}, {"id": "e", "max_model_len": True}]}
    assert [reported_window(listed, m) for m in "abcdef"] == [8192, 131072, 4096, None, None, None]  # type: ignore[arg-type]
