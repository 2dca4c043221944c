"""Server-sent events: framing Responses events, and decoding an upstream's event stream.

A frame is built once, as one bytes object, so it goes to the socket in one write: some
client parsers lose an event whose blank line arrives in a later read.
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson

KEEPALIVE = b": keepalive\n\n"
DONE = b"[DONE]"

# One decoded event: its `event:` name (None when the event had no `event:` line) and its `data`.
ServerEvent = tuple[str | None, bytes]


def frame(event: Mapping[str, object]) -> bytes:
    """`event: <type>\\ndata: <json>\\n\\n` for one Responses event."""
    return b"event: " + str(event["type"]).encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


class SSEDecoder:
    """Incremental SSE parser: feed bytes as they arrive, get the complete events, with their `event:` names
    (native Responses streams name each event; chat streams carry data only).

    Handles `\\n`, `\\r\\n` and `\\r` line ends, multi-line `data:` fields, comments and events
    split anywhere across reads.
    """

    __slots__ = ("_buf", "_data", "_event")

    def __init__(self) -> None:
        self._buf = b""
        self._data: list[bytes] = []
        self._event: str | None = None

    def feed(self, chunk: bytes) -> list[ServerEvent]:
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
        out: list[ServerEvent] = []
        for line in lines:
            if not line:
                if self._data:
                    out.append((self._event, b"\n".join(self._data)))
                    self._data = []
                self._event = None
            elif line.startswith(b"data:"):
                self._data.append(_value(line, 5))
            elif line.startswith(b"event:"):
                self._event = _value(line, 6).decode("utf-8", "replace")
            # other fields (id:, retry:) and comments carry nothing the bridge needs
        return out

    def close(self) -> list[ServerEvent]:
        """Flush an event the upstream did not terminate with a blank line."""
        line = self._buf.removesuffix(b"\r")  # a held \r is a line end, not payload
        if line.startswith(b"data:"):
            self._data.append(_value(line, 5))
        self._buf = b""
        out: list[ServerEvent] = []
        if self._data:
            out.append((self._event, b"\n".join(self._data)))
            self._data = []
        self._event = None
        return out


def _value(line: bytes, start: int) -> bytes:
    """A field's value: what follows the colon, less one leading space."""
    value = line[start:]
    return value[1:] if value.startswith(b" ") else value
