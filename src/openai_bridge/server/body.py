"""Reading a request body: bounded while it is read, decompressed (gzip, zstd) within the same bound, and a
JSON object of bounded nesting, or a clear 4xx naming the limit."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from io import BytesIO

import orjson
import zstandard
from fastapi import Request

from ..errors import InvalidRequest
from ..settings import Limits

_READ = 1 << 16


async def read_json(request: Request, limits: Limits, *, empty: dict[str, object] | None = None) -> dict[str, object]:
    """The body as a JSON object; `empty`, when given, stands for a body with nothing in it (a create whose
    fields are all optional)."""
    max_bytes = limits.max_body_mb * 1024 * 1024
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:  # refuse before reading it
        raise _too_large(limits)
    raw = await _read(request.stream(), max_bytes, limits)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raw = _decompress(raw, encoding, max_bytes, limits)
    if not raw.strip():
        if empty is not None:
            return dict(empty)
        raise InvalidRequest("The request body is empty; send a JSON object.")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc) or "recursion" in str(exc):  # orjson's own limit, deeper than ours
            raise _too_deep(limits) from None
        raise InvalidRequest(f"The request body is not valid JSON: {exc}", code="invalid_json") from exc
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    if _deeper_than(body, limits.max_json_depth):
        raise _too_deep(limits)
    return body


async def _read(chunks: AsyncIterator[bytes], max_bytes: int, limits: Limits) -> bytes:
    """The whole body; refused as soon as it outgrows the limit (a chunked body has no length up front)."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(limits)
        parts.append(chunk)
    return b"".join(parts)


def _decompress(raw: bytes, encoding: str, max_bytes: int, limits: Limits) -> bytes:
    """`raw` decoded per its Content-Encoding (Codex sends zstd), never to more than `max_bytes`."""
    parts: list[bytes] = []
    size = 0
    try:
        if encoding in ("gzip", "x-gzip"):
            gz = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            data = raw
            while data and not gz.eof:
                part = gz.decompress(data, _READ)
                data = gz.unconsumed_tail
                size += len(part)
                if size > max_bytes:
                    raise _too_large(limits, decompressed=True)
                parts.append(part)
            if not gz.eof:
                raise zlib.error("the gzip stream is truncated")
        elif encoding == "zstd":
            with zstandard.ZstdDecompressor().stream_reader(BytesIO(raw), read_across_frames=True) as reader:
                while part := reader.read(_READ):
                    size += len(part)
                    if size > max_bytes:
                        raise _too_large(limits, decompressed=True)
                    parts.append(part)
        else:
            raise InvalidRequest(f"Content-Encoding {encoding!r} is not supported; send gzip, zstd or identity.",
                                 param=None, code="unsupported_content_encoding", status=415)
    except (zlib.error, zstandard.ZstdError) as exc:
        raise InvalidRequest(f"The request body is not valid {encoding} data: {exc}", code="invalid_body") from exc
    return b"".join(parts)


def _deeper_than(value: object, limit: int) -> bool:
    """Whether objects and arrays nest deeper than `limit` in `value` (iterative: no recursion to exhaust)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _too_large(limits: Limits, *, decompressed: bool = False) -> InvalidRequest:
    what = "The request body, once decompressed, is" if decompressed else "The request body is"
    return InvalidRequest(f"{what} larger than {limits.max_body_mb} MB, this bridge's limit (BRIDGE_MAX_BODY_MB).",
                          code="payload_too_large", status=413)


def _too_deep(limits: Limits) -> InvalidRequest:
    return InvalidRequest(f"The request body nests objects and arrays deeper than {limits.max_json_depth} levels, "
                          "this bridge's limit (BRIDGE_MAX_JSON_DEPTH).", code="json_too_deep")
