"""`store`, `background`, `previous_response_id` and `conversation` are the caller's business.

The translator neither refuses them nor drops them with a warning (the service decides what they mean),
never sends them upstream, and echoes on the Response what it is told: `store` as the caller decided it,
the others as the client sent them.
"""

from __future__ import annotations

import pytest

from openai_bridge.ids import SequentialIds
from openai_bridge.translate import Options, StreamTranslator, to_chat_request, to_response

CALLER_FIELDS = {"store": True, "background": True, "previous_response_id": "resp_1", "conversation": "conv_1"}
COMPLETION = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}]}


@pytest.mark.parametrize("strict", [False, True])
def test_caller_fields_are_neither_sent_nor_judged(strict: bool) -> None:
    down = to_chat_request({"model": "m", "input": "hi", **CALLER_FIELDS}, options=Options(strict=strict))
    assert down.chat == {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    assert down.dropped == []


@pytest.mark.parametrize("store", [False, True])
def test_store_is_echoed_as_the_caller_decided(store: bool) -> None:
    request = {"model": "m", "input": "hi", **CALLER_FIELDS, "store": not store}  # the client's ask is not it
    machine = StreamTranslator(request, model="m", new_id=SequentialIds(), clock=lambda: 1, store=store)
    events = machine.start() + machine.feed(to_chunk()) + machine.finish()
    assert [e["response"]["store"] for e in events if "response" in e] == [store, store, store]
    response = to_response(COMPLETION, request=request, model="m", new_id=SequentialIds(), clock=lambda: 1,
                           store=store)
    assert response["store"] is store
    assert StreamTranslator(request, model="m", new_id=SequentialIds(), clock=lambda: 1).response["store"] is False


def test_the_other_caller_fields_are_echoed() -> None:
    response = to_response(COMPLETION, request={"input": "hi", **CALLER_FIELDS}, model="m", new_id=SequentialIds(),
                           clock=lambda: 1)
    assert response["background"] is True
    assert response["previous_response_id"] == "resp_1"
    assert response["conversation"] == {"id": "conv_1"}


def to_chunk() -> dict[str, object]:
    return {"choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}]}
