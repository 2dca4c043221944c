"""Client keys (BRIDGE_API_KEYS): a request must present one of them, as `Authorization: Bearer KEY`."""

from __future__ import annotations

import hmac

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from .middleware import bearer_token, note_error

# Open to anyone: a load balancer's health check carries no key.
OPEN_PATHS = frozenset({"/healthz"})
_UNAUTHORIZED = orjson.dumps({"error": {
    "message": "Incorrect or missing API key. Send one of this bridge's keys as 'Authorization: Bearer KEY'.",
    "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}})


def known(token: str | None, keys: frozenset[str]) -> bool:
    """Whether `token` is one of `keys`, compared in constant time, and against every key (how far a guess got
    and which key it resembles take the same time)."""
    if token is None:
        return False
    given = token.encode()
    found = False
    for key in keys:
        found |= hmac.compare_digest(given, key.encode())
    return found


class KeyCheck:
    """Answers 401 (OpenAI-shaped, as OpenAI does) to an HTTP request without a valid key. Outside
    RequestIdMiddleware's inner app, so the refusal still has its request id and log line."""

    def __init__(self, app: ASGIApp, keys: frozenset[str]) -> None:
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS or known(bearer_token(scope), self.keys):
            await self.app(scope, receive, send)
            return
        note_error(scope, "invalid_api_key")
        await send({"type": "http.response.start", "status": 401,
                    "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")]})
        await send({"type": "http.response.body", "body": _UNAUTHORIZED})
