"""A Response -> a chat completion: the finish reasons, failures as errors with fitting statuses, and an
upstream's malformed answer as an upstream fault."""

from __future__ import annotations

from typing import Any

import pytest

from openai_bridge.errors import UpstreamError, UpstreamProtocolError
from openai_bridge.ids import SequentialIds
from openai_bridge.translate import to_chat_completion

MESSAGE = {"id": "msg_1", "type": "message", "role": "assistant", "status": "completed",
           "content": [{"type": "output_text", "text": "Hi", "annotations": []}]}
CALL = {"id": "fc_1", "type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}",
        "status": "completed"}


def completion(**response: Any) -> dict[str, Any]:
    return dict(to_chat_completion({"status": "completed", "output": [MESSAGE], **response}, model="m",
                                   new_id=SequentialIds(), clock=lambda: 1))


@pytest.mark.parametrize(("response", "finish"), [
    ({}, "stop"),
    ({"output": [MESSAGE, CALL]}, "tool_calls"),
    ({"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}}, "length"),
    ({"status": "incomplete", "incomplete_details": {"reason": "content_filter"}}, "content_filter"),
    ({"status": "incomplete", "output": [MESSAGE, CALL], "incomplete_details": {"reason": "max_output_tokens"}},
     "length"),
])
def test_finish_reason(response: dict[str, Any], finish: str) -> None:
    assert completion(**response)["choices"][0]["finish_reason"] == finish


def test_tool_calls_carry_the_call_id_and_content_is_null_without_text() -> None:
    message = completion(output=[CALL])["choices"][0]["message"]
    assert message["tool_calls"] == [{"id": "call_1", "type": "function", "function": {"name": "f",
                                                                                       "arguments": "{}"}}]
    assert message["content"] is None


def test_an_empty_answer_has_empty_content_and_no_usage_when_none_came() -> None:
    answer = completion(status="incomplete", output=[], incomplete_details={"reason": "max_output_tokens"})
    assert answer["choices"][0]["message"]["content"] == ""
    assert "usage" not in answer


@pytest.mark.parametrize(("error", "status", "kind"), [
    ({"code": "rate_limit_exceeded", "message": "Slow down."}, 429, "upstream_error"),
    ({"code": "invalid_prompt", "message": "Bad prompt."}, 400, "invalid_request_error"),
    ({"code": "server_error", "message": "Boom."}, 502, "upstream_error"),
    (None, 502, "upstream_error"),
])
def test_a_failed_response_is_an_error(error: object, status: int, kind: str) -> None:
    with pytest.raises(UpstreamError) as info:
        completion(status="failed", error=error)
    assert (info.value.status, info.value.type) == (status, kind)
    assert info.value.code == (error["code"] if isinstance(error, dict) else "upstream_error")


@pytest.mark.parametrize("response", [
    {"status": "in_progress"},
    {"output": None},
    {"output": [{"type": "function_call", "id": "fc_1", "name": "f", "arguments": "{}"}]},  # no call_id
])
def test_an_unfinished_or_malformed_response_is_an_upstream_fault(response: dict[str, Any]) -> None:
    with pytest.raises(UpstreamProtocolError):
        completion(**response)


def test_malformed_parts_and_unknown_items_are_skipped() -> None:
    output = [{"type": "web_search_call", "id": "ws_1"}, "junk",
              {"type": "message", "content": [{"type": "output_text", "text": 5},
                                              {"type": "output_text", "text": "ok"}]},
              {"type": "reasoning", "summary": [{"type": "summary_text", "text": "s"}], "content": None}]
    message = completion(output=output)["choices"][0]["message"]
    assert (message["content"], message["reasoning_content"]) == ("ok", "s")
