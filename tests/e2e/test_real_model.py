"""The real OpenAI SDK through the bridge to a real llama.cpp server (SmolLM2-135M on CPU).

Slow-ish (a model server starts), but small: the whole module takes well under a minute.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai
import pytest
from openai import OpenAI
from pydantic import BaseModel, Field

from openai_bridge.settings import Settings
from openai_bridge.testing import running_bridge
from tests.support.conformance import Recorder
from tests.support.llamacpp import llamacpp_server

pytestmark = pytest.mark.slow

MODEL = "smollm2"


@pytest.fixture(scope="module")
def llama() -> Iterator[str]:
    with llamacpp_server() as base_url:
        yield base_url


@pytest.fixture(scope="module")
def llama_bridge(llama: str, conformance: Recorder) -> Iterator[str]:
    with running_bridge(Settings(upstream=llama, default_model=MODEL), wrap=conformance.wrap) as base:
        yield base


# Not conftest's `client`: that one talks to the scripted upstream's bridge.
@pytest.fixture(scope="module")
def llama_client(llama_bridge: str) -> Iterator[OpenAI]:
    with OpenAI(base_url=llama_bridge + "/v1", api_key="x", max_retries=0, timeout=60) as c:
        yield c


def assert_finished(response) -> None:
    assert response.status in ("completed", "incomplete"), response
    if response.status == "incomplete":
        assert response.incomplete_details is not None
        assert response.incomplete_details.reason == "max_output_tokens"


def test_create(llama_client: OpenAI) -> None:
    response = llama_client.responses.create(model=MODEL, input="Say hello", max_output_tokens=32)
    assert response.object == "response"
    assert_finished(response)
    assert response.output_text.strip()
    assert response.usage is not None
    assert response.usage.input_tokens > 0
    assert response.usage.output_tokens > 0
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens


def test_stream(llama_client: OpenAI) -> None:
    deltas: list[str] = []
    sequence: list[int] = []
    types: list[str] = []
    # Greedy decoding: this prompt ends with "stop" after ~30 tokens, well inside the budget. (The SDK's
    # get_final_response() wants `response.completed`; a length cut-off ends with `response.incomplete`.)
    with llama_client.responses.stream(model=MODEL, input="Say hello", max_output_tokens=64, temperature=0) as stream:
        for event in stream:
            sequence.append(event.sequence_number)
            types.append(event.type)
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
            if event.type == "response.incomplete":
                pytest.fail(f"the model ran out of tokens, pick a shorter prompt: {event.response.output_text!r}")
        final = stream.get_final_response()
    assert_finished(final)
    assert final.output_text.strip()
    assert "".join(deltas) == final.output_text
    assert sequence == list(range(len(sequence))), sequence
    assert types[0] == "response.created"
    assert types[-1] == "response.completed"
    assert final.usage is not None and final.usage.input_tokens > 0


def test_base_url_without_v1(llama_bridge: str) -> None:
    with OpenAI(base_url=llama_bridge, api_key="x", max_retries=0, timeout=60) as plain:
        response = plain.responses.create(model=MODEL, input="Say hello", max_output_tokens=8)
    assert_finished(response)
    assert response.output_text


def test_a_base_url_the_server_has_no_routes_under(llama: str, conformance: Recorder) -> None:
    """llama.cpp's own 404 ("File Not Found"), for the API and for the model list: the client learns which URL
    was called and which setting to fix, not that its model or its own URL is wrong."""
    wrong = llama.removesuffix("/v1") + "/api/v1"  # OpenRouter's layout, on a server that has none of it
    with running_bridge(Settings(upstream=wrong, default_model=MODEL), wrap=conformance.wrap) as url, \
            OpenAI(base_url=url + "/v1", api_key="x", max_retries=0, timeout=60) as client:
        for call, route in [(lambda: client.responses.create(input="Say hello", max_output_tokens=8),
                             f"POST {wrong}/chat/completions"),
                            (client.models.list, f"GET {wrong}/models")]:
            with pytest.raises(openai.APIStatusError) as info:
                call()
            assert (info.value.status_code, info.value.code) == (502, "upstream_not_found")
            assert f"has no route {route} (it answered 404: File Not Found)" in info.value.message
            assert "REMOTE_OPENAI_BASE_URL" in info.value.message


class City(BaseModel):
    # Bounded, so the grammar cannot let the model ramble past the token budget (it likes to repeat
    # digits forever in an unbounded integer).
    name: str = Field(max_length=24)
    population: int = Field(ge=0, le=100_000_000)


def test_json_schema(llama_client: OpenAI) -> None:
    # llama.cpp turns the json_schema into a grammar: whatever the 135M model says, it is JSON of this
    # shape. The content itself is not checked: the model is tiny.
    response = llama_client.responses.parse(
        model=MODEL,
        input="Name a large city and its population, as JSON.",
        text_format=City,
        max_output_tokens=128,
        temperature=0,
    )
    assert response.status == "completed", response
    data = json.loads(response.output_text)
    City.model_validate(data)
    assert isinstance(response.output_parsed, City)
    assert response.output_parsed.name == data["name"]
