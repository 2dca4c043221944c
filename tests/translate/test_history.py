"""Input items as the store keeps them, in the shape OpenAI lists them back (a response's `input_items`, a
conversation's items): typed, with ids, a message's content as parts, its status set."""

from __future__ import annotations

import pytest

from openai_bridge.errors import InvalidRequest
from openai_bridge.ids import SequentialIds
from openai_bridge.translate.history import duplicates, input_items


def test_a_string_is_one_user_message():
    assert input_items("hi", SequentialIds()) == [
        {"id": "msg_0001", "type": "message", "role": "user", "status": "completed",
         "content": [{"type": "input_text", "text": "hi"}]}]


def test_messages_are_typed_given_ids_and_their_text_becomes_parts():
    sent = [{"role": "user", "content": "question"},
            {"role": "assistant", "content": "answer", "id": "msg_old"},
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "rules"}],
             "status": "incomplete"},
            {"type": "function_call_output", "call_id": "call_1", "output": "42"}]
    kept = input_items(sent, SequentialIds())
    assert kept == [
        {"id": "msg_0001", "type": "message", "role": "user", "status": "completed",
         "content": [{"type": "input_text", "text": "question"}]},
        {"id": "msg_old", "type": "message", "role": "assistant", "status": "completed",
         "content": [{"type": "output_text", "text": "answer", "annotations": []}]},
        {"id": "msg_0002", "type": "message", "role": "developer", "status": "incomplete",
         "content": [{"type": "input_text", "text": "rules"}]},
        {"id": "fco_0003", "type": "function_call_output", "call_id": "call_1", "output": "42"},
    ]
    assert sent[0] == {"role": "user", "content": "question"}  # the request's own are left as they were


def test_errors_name_the_param_given():
    with pytest.raises(InvalidRequest) as err:
        input_items([{"role": "user", "content": "x"}, 3], SequentialIds(), "items")
    assert err.value.param == "items[1]"
    with pytest.raises(InvalidRequest) as err:
        input_items({"role": "user"}, SequentialIds())
    assert err.value.param == "input"


def test_duplicates():
    items = [{"id": "a"}, {"id": "b"}]
    assert duplicates(items) is None
    assert duplicates(items, ["c"]) is None
    assert duplicates(items, ["b"]) == "b"
    assert duplicates([*items, {"id": "a"}]) == "a"


def test_an_item_reference_needs_an_id():
    with pytest.raises(InvalidRequest) as exc:
        input_items([{"role": "user", "content": "q"}, {"type": "item_reference"}], SequentialIds())
    assert exc.value.param == "input[1].id"
