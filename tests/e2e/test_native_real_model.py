"""Auto mode in front of a real llama.cpp server (SmolLM2-135M on CPU), which serves `/v1/responses` itself:
which way the bridge decides, and that the SDK's `responses.stream` works either way."""

from __future__ import annotations

import logging

import pytest
from openai import OpenAI

from openai_bridge.settings import Settings
from openai_bridge.testing import running_bridge
from tests.support.llamacpp import llamacpp_server

pytestmark = pytest.mark.slow

MODEL = "smollm2"


def test_auto_mode_serves_llamacpps_defective_stream_repaired_then_goes_through_chat(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "openai_bridge")
    with llamacpp_server() as llama, running_bridge(Settings(upstream=llama, default_model=MODEL)) as url, \
            OpenAI(base_url=url + "/v1", api_key="x", max_retries=0, timeout=120) as client:
        for _ in range(2):
            with client.responses.stream(model=MODEL, input="Say hello.", max_output_tokens=24) as stream:
                events = list(stream)
            assert [e.sequence_number for e in events] == list(range(len(events)))
            assert events[-1].type in ("response.completed", "response.incomplete")
            assert "".join(e.delta for e in events if e.type == "response.output_text.delta").strip()
    verdicts = [r.getMessage() for r in caplog.records if "upstream default, model smollm2" in r.getMessage()]
    # llama.cpp answers /v1/responses (so it is tried and served), but its stream has no sequence_number,
    # output_index or content_index and bare snapshots: served repaired once, then through chat.
    assert len(verdicts) == 1, verdicts
    assert "served through chat completions" in verdicts[0]
    assert "defective (no sequence_number" in verdicts[0] and "no output_index" in verdicts[0]
    print(verdicts[0])
