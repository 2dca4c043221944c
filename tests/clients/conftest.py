"""Real clients (OpenAI Agents SDK, Vercel AI SDK) against the real bridge, in front of a scripted upstream.

The bridge is wrapped in a test-only ASGI recorder, so a test can read the Responses request exactly
as the client sent it (`recorder.bodies`), next to what the bridge sent upstream (`upstream.requests`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openai_bridge.settings import Settings, Timeouts
from openai_bridge.testing import ScriptedUpstream, running_bridge
from tests.support.conformance import Recorder as Conformance

TIMEOUTS = Timeouts(connect=2.0, first_byte=5.0, idle=5.0)


class Recorder:
    """ASGI middleware keeping the JSON body of every `POST .../responses` the bridge receives (`bodies`), and
    the path of every WebSocket upgrade it is asked for (`upgrades`).

    `answers` holds canned answers (SSE bytes) for the next creates: such a request is recorded and answered
    with the canned stream instead of reaching the bridge. It plays a turn that no chat model behind the
    bridge can produce (a `tool_search_call` of a model with tool search), so that the client's real follow-up
    request can go through the bridge."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.upgrades: list[str] = []
        self.answers: list[bytes] = []

    def wrap(self, app: ASGIApp) -> ASGIApp:
        async def recording(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "websocket":
                self.upgrades.append(scope["path"])
            if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].endswith("/responses"):
                await app(scope, receive, send)
                return
            messages: list[Message] = []
            while True:
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request" or not message.get("more_body"):
                    break
            raw = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
            try:
                self.bodies.append(json.loads(raw))
            except ValueError:
                self.bodies.append({"<unparsable>": raw.decode("utf-8", "replace")})
            if self.answers:
                await send({"type": "http.response.start", "status": 200,
                            "headers": [(b"content-type", b"text/event-stream")]})
                await send({"type": "http.response.body", "body": self.answers.pop(0)})
                return

            async def replay() -> Message:
                return messages.pop(0) if messages else await receive()

            await app(scope, replay, send)

        return recording


@pytest.fixture(scope="session")
def scripted_server() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream() as up:
        yield up


@pytest.fixture(scope="session")
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def upstream(scripted_server: ScriptedUpstream, recorder: Recorder) -> ScriptedUpstream:
    scripted_server.reset()
    recorder.bodies.clear()
    recorder.upgrades.clear()
    recorder.answers.clear()
    return scripted_server


@pytest.fixture(scope="session")
def bridge_url(scripted_server: ScriptedUpstream, recorder: Recorder, conformance: Conformance) -> Iterator[str]:
    config = Settings(upstream=scripted_server.base_url, default_model="m", keepalive=1.0, timeouts=TIMEOUTS)
    # The recorder may answer a turn itself (a canned one); the conformance check sees what the bridge sends.
    with running_bridge(config, wrap=lambda app: recorder.wrap(conformance.wrap(app))) as url:
        yield url
