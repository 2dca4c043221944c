"""Server-sent events: framing Responses events and reading chat chunks.

A frame is built once, as one bytes object, so it goes to the socket in one write: some
client parsers lose an event whose blank line arrives in a later read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

KEEPALIVE = b": keepalive\n\n"


def frame(event: dict[str, Any]) -> bytes:
    """`event: <type>\\ndata: <json>\\n\\n` for one Responses event."""
    return b"event: " + str(event["type"]).encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


class SSEDecoder:
    """Incremental SSE parser: feed bytes as they arrive, get the `data` payloads of complete events.

    Handles `\\n`, `\\r\\n` and `\\r` line ends, multi-line `data:` fields, comments and events
    split anywhere across reads.
    """

    __slots__ = ("_buf", "_data")

    def __init__(self) -> None:
        self._buf = b""
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        buf = self._buf + chunk
        if b"\r" in buf:
            # A lone trailing \r may be the first half of \r\n: keep it for the next read.
            hold = buf.endswith(b"\r")
            if hold:
                buf = buf[:-1]
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            if hold:
                buf += b"\r"
        lines = buf.split(b"\n")
        self._buf = lines.pop()
        for line in lines:
            if not line:
                if self._data:
                    data = b"\n".join(self._data)
                    self._data = []
                    yield data
                continue
            if line.startswith(b"data:"):
                value = line[5:]
                if value.startswith(b" "):
                    value = value[1:]
                self._data.append(value)
            # other fields (event:, id:, retry:) and comments carry nothing a chat stream needs

    def close(self) -> Iterator[bytes]:
        """Flush an event the upstream did not terminate with a blank line."""
        line = self._buf.removesuffix(b"\r")  # a held \r is a line end, not payload
        if line.startswith(b"data:"):
            value = line[5:]
            if value.startswith(b" "):  # one space, as in feed(): the rest is payload
                value = value[1:]
            self._data.append(value)
        self._buf = b""
        if self._data:
            data = b"\n".join(self._data)
            self._data = []
            yield data
