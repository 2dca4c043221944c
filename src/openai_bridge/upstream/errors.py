"""What an upstream answered -> parsed objects or one clear `BridgeError`. Pure: shared by every
implementation of the upstream seam (the aiohttp client, the test kit's fake)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from typing import cast

import orjson

from ..errors import BridgeError, UpstreamError, UpstreamProtocolError
from ..wire.chat import ChatChunk, ChatCompletion
from ..wire.responses import ResponseStreamEvent
from ..wire.sse import DONE, ServerEvent
from .base import NamedEvent

# What a newcomer who set the upstream's URL wrong needs to read (the route is missing, a web page answered).
BASE_URL_HINT = ("Check REMOTE_OPENAI_BASE_URL: it must be the base URL that /chat/completions and /models follow, "
                 "as the server documents it (e.g. http://localhost:8000/v1, https://openrouter.ai/api/v1); "
                 "/v1 is added only to a URL without a path.")


def json_object(raw: bytes, what: str) -> dict[str, object]:
    """The JSON object in `raw`, the body of `what` (e.g. "POST http://host:8000/v1/chat/completions")."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        text = raw.decode("utf-8", "replace").strip()
        if _is_html(text):  # a web page (a UI, a proxy's landing page) where the API was expected
            raise UpstreamProtocolError(f"The upstream answered {what} with an HTML page ({_page_line(text)}), "
                                        f"not JSON. {BASE_URL_HINT}") from exc
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


def raw_event(event: ServerEvent) -> ServerEvent | None:
    """One decoded event of a chat stream passed through as it is: itself, or None for `[DONE]`."""
    return None if event[1].strip() == DONE else event


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


def status_error(status: int, content: bytes, method: str, url: str, retry_after: str | None = None) -> UpstreamError:
    """An upstream's 4xx/5xx answer to `method url` (the URL as it may be shown: without a password), whatever
    its body. The upstream's own status stays on the error as `upstream_status`, its `Retry-After` as
    `retry_after`."""
    try:
        body: object = orjson.loads(content)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict):
        error = error_from_body(status, body)
        said = _fields(body)[0]
    else:
        said = short_text(content)
        error = UpstreamError(f"Upstream error {status}: {said}", status=status)
    if status in (401, 403):
        # The upstream refused the bridge's own credentials, not the client's: a 401 would make the client
        # doubt its key, and the fix is in the bridge's configuration.
        error = UpstreamError(f"The upstream refused the bridge's credentials ({error.message}); check the "
                              "bridge's upstream API key (REMOTE_OPENAI_API_KEY).", status=502,
                              code="upstream_auth_failed")
    elif status == 405 or (status == 404 and (method == "GET" or not _about_a_model(body))):
        # Not the client's request but the bridge's URL: a 404 would make the client doubt its model or its own
        # base URL. (A GET /models names no model, so its 404 is always the route's.)
        error = UpstreamError(_no_route(status, method, url, said), status=502, code="upstream_not_found")
    error.upstream_status = status
    error.retry_after = retry_after
    return error


def _no_route(status: int, method: str, url: str, said: str) -> str:
    what = f"has no route {method} {url}" if status == 404 else f"does not take {method} at {url}"
    tail = " (A server that does not list its models answers so too.)" if method == "GET" else ""
    return f"The upstream {what} (it answered {status}: {said}). {BASE_URL_HINT}{tail}"


# "model" but not "models": OpenAI's route 404 names the path ("Invalid URL (GET /v1/models/x)").
_MODEL = re.compile(r"model(?!s\b)|deployment", re.IGNORECASE)


def _about_a_model(body: object) -> bool:
    """Whether a 404's body says the requested model is unknown: OpenAI's `model_not_found`, vLLM's "The model
    `x` does not exist.", Ollama's "model 'x' not found", Azure's `DeploymentNotFound`. A missing route is
    anything else: an HTML page, plain text, an empty body, FastAPI's `{"detail": "Not Found"}`, llama.cpp's
    "File Not Found", OpenAI's "Invalid URL (POST /v1/...)"."""
    if not isinstance(body, dict):
        return False
    message, _, code, kind = _fields(body)
    if message.startswith("Invalid URL"):
        return False
    return any(_MODEL.search(text) for text in (message, code or "", kind or ""))


def error_from_body(status: int, body: dict[str, object]) -> UpstreamError:
    """Upstreams shape errors differently: OpenAI/vLLM `{"error": {...}}`, Ollama and llama.cpp
    `{"error": "..."}` or `{"error": {"message", "code"}}`, FastAPI `{"detail": ...}`."""
    message, param, code, upstream_type = _fields(body)
    error = UpstreamError(f"Upstream error {status}: {message}", status=status, param=param,
                          code=code or "upstream_error")
    # A 4xx is about the request the client made (context too long, unknown model): say so as OpenAI does.
    if upstream_type:
        error.type = upstream_type
    elif 400 <= status < 500:
        error.type = "invalid_request_error"
    return error


def _fields(body: dict[str, object]) -> tuple[str, str | None, str | None, str | None]:
    """message, param, code and type of an upstream's error body, whichever of the shapes it has."""
    err = body.get("error", body.get("detail", body))
    if not isinstance(err, dict):
        return str(err), None, None, None
    message = err.get("message") or orjson.dumps(err).decode()
    param, code, kind = (err.get(key) for key in ("param", "code", "type"))
    return (str(message), param if isinstance(param, str) else None, code if isinstance(code, str) else None,
            kind if isinstance(kind, str) else None)


TEXT_LIMIT = 500  # characters of a non-JSON error body that go into a message
_TITLE = re.compile(r"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
_HIDDEN = re.compile(r"<(script|style|head)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")


def short_text(content: bytes) -> str:
    """A non-JSON body as it goes into an error message: an HTML page (nginx's or Cloudflare's 502) by its
    title, plain text cut at `TEXT_LIMIT` characters; the cut says so."""
    text = content.decode("utf-8", "replace").strip()
    if not text:
        return "(empty body)"
    if _is_html(text):
        return f"{_page_line(text)} (an HTML page)"
    if len(text) > TEXT_LIMIT:
        return f"{text[:TEXT_LIMIT]}... (cut: {len(text)} characters in all)"
    return text


def _is_html(text: str) -> bool:
    head = text[:1000].lower()
    return head.startswith("<") and any(tag in head for tag in ("<!doctype html", "<html", "<head", "<title", "<body"))


def _page_line(text: str) -> str:
    """An HTML page's title, or else its first text, on one line and bounded."""
    title = _TITLE.search(text)
    line = " ".join(html.unescape(title.group(1)).split()) if title else ""
    if not line:  # the first text between tags (a line break in the source is only a space on the page)
        pieces = (" ".join(html.unescape(piece).split()) for piece in _TAG.split(_HIDDEN.sub("", text)))
        line = next((piece for piece in pieces if piece), "(no text)")
    return line if len(line) <= 200 else line[:200] + "..."


class Redactor:
    """Takes every configured secret out of text that came from an upstream, before a client, a log or a
    stored object sees it (OpenAI echoes a wrong key in its 401; other servers echo whole requests)."""

    REDACTED = "[redacted]"
    MIN_LENGTH = 6  # shorter "secrets" (test keys like "x") would blank out ordinary letters

    def __init__(self, secrets: Iterable[str | None]) -> None:
        found = {s for s in secrets if s and len(s) >= self.MIN_LENGTH}
        self._secrets = sorted(found, key=len, reverse=True)  # a key that contains another goes first

    def also(self, secret: str) -> Redactor:
        """A redactor that takes `secret` out too."""
        return Redactor([*self._secrets, secret])

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
