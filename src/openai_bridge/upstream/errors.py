"""What an upstream answered -> parsed objects or one clear `BridgeError`. Pure: shared by every
implementation of the upstream seam (the aiohttp client, the test kit's fake)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

import orjson

from ..errors import BridgeError, UpstreamError, UpstreamProtocolError
from ..wire.chat import ChatChunk, ChatCompletion
from ..wire.responses import ResponseStreamEvent
from ..wire.sse import DONE, ServerEvent
from .base import NamedEvent


def json_object(raw: bytes, what: str) -> dict[str, object]:
    """The JSON object in `raw`, the body of `what` (e.g. "POST /chat/completions")."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise UpstreamProtocolError(f"The upstream answered {what} with a body that is not JSON: {raw[:200]!r}") \
            from exc
    if not isinstance(data, dict):
        raise UpstreamProtocolError(f"The upstream answered {what} with JSON that is not an object.")
    return data


def chat_completion(data: dict[str, object]) -> ChatCompletion:
    """A non-stream chat answer; an error object in a 200 body is the upstream's failure."""
    if "error" in data and "choices" not in data:
        raise error_from_body(502, data)
    return cast(ChatCompletion, data)


def chat_event(event: ServerEvent) -> ChatChunk | None:
    """One decoded event of a chat stream: its chunk, or None for `[DONE]`."""
    return chat_chunk(event[1])


def named_event(event: ServerEvent) -> NamedEvent | None:
    """One decoded event of a native Responses stream, with its SSE name; None for `[DONE]`."""
    data = responses_event(event[1])
    return None if data is None else (event[0], data)


def chat_chunk(data: bytes) -> ChatChunk | None:
    """One `data:` payload of a chat stream: the chunk, or None for `[DONE]`."""
    chunk = _stream_event(data)
    if chunk is not None and "error" in chunk and "choices" not in chunk:
        raise error_from_body(502, chunk)
    return cast(ChatChunk | None, chunk)


def responses_event(data: bytes) -> ResponseStreamEvent | None:
    """One `data:` payload of a native Responses stream: the event, or None for `[DONE]` (older servers)."""
    return cast(ResponseStreamEvent | None, _stream_event(data))


def _stream_event(data: bytes) -> dict[str, object] | None:
    if data == DONE or data.strip() == DONE:
        return None
    try:
        event = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise UpstreamProtocolError(f"The upstream sent a stream event that is not JSON: {data[:200]!r}") from exc
    if not isinstance(event, dict):
        raise UpstreamProtocolError("The upstream sent a stream event that is not a JSON object.")
    return event


def status_error(status: int, content: bytes) -> BridgeError:
    """An upstream's 4xx/5xx answer, whatever its body."""
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict):
        error = error_from_body(status, body)
    else:
        text = content.decode("utf-8", "replace").strip()[:500] or "(empty body)"
        error = UpstreamError(f"Upstream error {status}: {text}", status=status)
    if status in (401, 403):
        # The upstream refused the bridge's own credentials, not the client's: a 401 would make the client
        # doubt its key, and the fix is in the bridge's configuration.
        return UpstreamError(f"The upstream refused the bridge's credentials ({error.message}); check the "
                             "bridge's upstream API key (REMOTE_OPENAI_API_KEY).", status=502,
                             code="upstream_auth_failed")
    return error


def error_from_body(status: int, body: dict[str, object]) -> BridgeError:
    """Upstreams shape errors differently: OpenAI/vLLM `{"error": {...}}`, Ollama and llama.cpp
    `{"error": "..."}` or `{"error": {"message", "code"}}`, FastAPI `{"detail": ...}`."""
    err = body.get("error", body.get("detail", body))
    param = code = upstream_type = None
    if isinstance(err, dict):
        message = err.get("message") or orjson.dumps(err).decode()
        param = err.get("param") if isinstance(err.get("param"), str) else None
        code = err.get("code") if isinstance(err.get("code"), str) else None
        upstream_type = err.get("type") if isinstance(err.get("type"), str) else None
    else:
        message = str(err)
    error = UpstreamError(f"Upstream error {status}: {message}", status=status, param=param,
                          code=code or "upstream_error")
    # A 4xx is about the request the client made (context too long, unknown model): say so as OpenAI does.
    if upstream_type:
        error.type = upstream_type
    elif 400 <= status < 500:
        error.type = "invalid_request_error"
    return error


class Redactor:
    """Takes every configured secret out of text that came from an upstream, before a client, a log or a
    stored object sees it (OpenAI echoes a wrong key in its 401; other servers echo whole requests)."""

    REDACTED = "[redacted]"
    MIN_LENGTH = 6  # shorter "secrets" (test keys like "x") would blank out ordinary letters

    def __init__(self, secrets: Iterable[str | None]) -> None:
        found = {s for s in secrets if s and len(s) >= self.MIN_LENGTH}
        self._secrets = sorted(found, key=len, reverse=True)  # a key that contains another goes first

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, self.REDACTED)
        return text

    def error(self, exc: BridgeError) -> BridgeError:
        """`exc`, its message redacted."""
        if self._secrets:
            exc.message = self(exc.message)
            exc.args = (exc.message,)
        return exc
