"""`Options` holds only values its types allow: settings arrive as strings from the environment."""

from __future__ import annotations

import pytest

from openai_bridge.translate import Options, to_chat_request


@pytest.mark.parametrize(("name", "value"), [
    ("reasoning_back", "content"),  # would overwrite the assistant's text
    ("reasoning_back", "reasoning_text"),
    ("max_tokens_field", "max_new_tokens"),
    ("instructions_role", "user"),
    ("developer_role", "assistant"),
])
def test_a_value_outside_the_type_is_refused(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        Options(**{name: value})


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_reasoning_goes_back_under_the_field_named(field: str) -> None:
    request = {"model": "m", "input": [
        {"role": "user", "content": "q"},
        {"type": "reasoning", "id": "rs_1", "summary": [], "content": [{"type": "reasoning_text", "text": "why"}]},
        {"role": "assistant", "content": "a"},
        {"role": "user", "content": "q2"},
    ]}
    assistant = to_chat_request(request, options=Options(reasoning_back=field)).chat["messages"][1]
    assert assistant == {"role": "assistant", "content": "a", field: "why"}
    dropped = to_chat_request(request).chat["messages"][1]
    assert dropped == {"role": "assistant", "content": "a"}
