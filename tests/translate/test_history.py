"""`input_items`: a request's input as the store keeps it, in the shape OpenAI's input items list shows it."""

from __future__ import annotations

import itertools

import pytest

from openai_bridge.errors import InvalidRequest
from openai_bridge.translate.history import input_items


def counter():
    n = itertools.count()
    return lambda prefix: f"{prefix}_{next(n)}"


def test_a_string_input_is_one_user_message_with_an_input_text_part():
    assert input_items("hi", counter()) == [
        {"id": "msg_0", "type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}]


def test_string_content_becomes_one_text_part():
    sent = [{"role": "user", "content": "q"}, {"role": "developer", "content": "d"},
            {"type": "message", "role": "system", "content": "s", "id": "msg_mine"},
            {"role": "assistant", "content": "a"}]
    assert input_items(sent, counter()) == [
        {"id": "msg_0", "type": "message", "role": "user", "content": [{"type": "input_text", "text": "q"}]},
        {"id": "msg_1", "type": "message", "role": "developer", "content": [{"type": "input_text", "text": "d"}]},
        {"id": "msg_mine", "type": "message", "role": "system", "content": [{"type": "input_text", "text": "s"}]},
        {"id": "msg_2", "type": "message", "role": "assistant",
         "content": [{"type": "output_text", "text": "a", "annotations": []}]},
    ]
    assert sent[0] == {"role": "user", "content": "q"}  # the request's own items are left as they are


def test_parts_and_other_items_are_kept_as_sent():
    parts = [{"type": "input_text", "text": "look"}, {"type": "input_image", "image_url": "data:image/png;base64,AA"}]
    sent = [{"type": "message", "role": "user", "content": parts},
            {"type": "function_call_output", "call_id": "c", "output": "out"},
            {"type": "item_reference", "id": "msg_old"}]
    assert input_items(sent, counter()) == [
        {"id": "msg_0", "type": "message", "role": "user", "content": parts},
        {"id": "fco_1", "type": "function_call_output", "call_id": "c", "output": "out"},
        {"type": "item_reference", "id": "msg_old"},
    ]


def test_an_item_reference_needs_an_id():
    with pytest.raises(InvalidRequest) as exc:
        input_items([{"role": "user", "content": "q"}, {"type": "item_reference"}], counter())
    assert exc.value.param == "input[1].id"
