"""Reading a request body: bounded, and a JSON object or a clear 4xx."""

from __future__ import annotations

import orjson
from fastapi import Request

from ..errors import BridgeError, InvalidRequest

# The largest request body accepted: long agent histories with images are big, but not this big.
MAX_BODY = 64 * 1024 * 1024


async def read_json(request: Request) -> dict[str, object]:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:  # refuse before reading it
        raise BridgeError(f"The request body is larger than {MAX_BODY} bytes.", status=413, code="payload_too_large")
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise BridgeError(f"The request body is larger than {MAX_BODY} bytes.", status=413, code="payload_too_large")
    if not raw.strip():
        raise InvalidRequest("The request body is empty; send a JSON object.")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}", code="invalid_json") from exc
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return body
