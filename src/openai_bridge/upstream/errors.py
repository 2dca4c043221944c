"""What an upstream answered -> parsed objects or one clear `BridgeError`. Pure: shared by every
implementation of the upstream seam (the aiohttp client, the test kit's fake)."""

from __future__ import annotations

from typing import cast

import orjson

from ..errors import BridgeError, UpstreamError, UpstreamProtocolError
from ..wire.chat import ChatChunk
from ..wire.responses import ResponseStreamEvent
from ..wire.sse import DONE


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
        return error_from_body(status, body)
    text = content.decode("utf-8", "replace").strip()[:500] or "(empty body)"
    return UpstreamError(f"Upstream error {status}: {text}", status=status)


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
