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


class SSEError(ValueError):
    """The stream breaks the limits of a sane event stream (a line or an event over the size limit)."""


MAX_LINE = 16 * 1024 * 1024


class SSEDecoder:
    """Incremental SSE parser: feed bytes as they arrive, get the complete events, with their `event:` names
    (native Responses streams name each event; chat streams carry data only).

    Handles `\\n`, `\\r\\n` and `\\r` line ends, multi-line `data:` fields, comments and events
    split anywhere across reads. Linear in the bytes fed, however they are split: an unfinished line is kept
    as pieces and joined once, when its end arrives. A line, or an event's data, longer than `max_line`
    bytes raises `SSEError`.
    """

    __slots__ = ("_pending", "_pending_size", "_data", "_data_size", "_event", "max_line")

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self.max_line = max_line
        self._pending: list[bytes] = []  # the unfinished last line, in pieces (may end in a held \r)
        self._pending_size = 0
        self._data: list[bytes] = []
        self._data_size = 0
        self._event: str | None = None

    def feed(self, chunk: bytes) -> list[ServerEvent]:
        if not chunk:
            return []
        pending = self._pending
        if b"\n" not in chunk and b"\r" not in chunk and not (pending and pending[-1].endswith(b"\r")):
            pending.append(chunk)  # still inside one line
            self._pending_size += len(chunk)
            if self._pending_size > self.max_line:
                raise SSEError(f"an SSE line longer than {self.max_line} bytes")
            return []
        buf = b"".join(pending) + chunk if pending else chunk
        pending.clear()
        if b"\r" in buf:
            # A lone trailing \r may be the first half of \r\n: keep it for the next read.
            hold = buf.endswith(b"\r")
            if hold:
                buf = buf[:-1]
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            if hold:
                buf += b"\r"
        lines = buf.split(b"\n")
        last = lines.pop()
        if last:
            if len(last) > self.max_line:
                raise SSEError(f"an SSE line longer than {self.max_line} bytes")
            pending.append(last)
        self._pending_size = len(last)
        out: list[ServerEvent] = []
        for line in lines:
            if not line:
                if self._data:
                    out.append((self._event, b"\n".join(self._data)))
                    self._data = []
                    self._data_size = 0
                self._event = None
            elif line.startswith(b"data:"):
                self._add_data(_value(line, 5))
            elif line.startswith(b"event:"):
                self._event = _value(line, 6).decode("utf-8", "replace")
            # other fields (id:, retry:) and comments carry nothing the bridge needs
        return out

    def close(self) -> list[ServerEvent]:
        """Flush an event the upstream did not terminate with a blank line."""
        line = b"".join(self._pending).removesuffix(b"\r")  # a held \r is a line end, not payload
        self._pending.clear()
        self._pending_size = 0
        if line.startswith(b"data:"):
            self._add_data(_value(line, 5))
        out: list[ServerEvent] = []
        if self._data:
            out.append((self._event, b"\n".join(self._data)))
            self._data = []
            self._data_size = 0
        self._event = None
        return out

    def _add_data(self, value: bytes) -> None:
        self._data_size += len(value) + 1
        if self._data_size > self.max_line:
            raise SSEError(f"an SSE event with more than {self.max_line} bytes of data")
        self._data.append(value)


def _value(line: bytes, start: int) -> bytes:
    """A field's value: what follows the colon, less one leading space."""
    value = line[start:]
    return value[1:] if value.startswith(b" ") else value


# ---- chat streams: data-only frames, ended by [DONE] -----------------------------------------------

DONE_FRAME = b"data: [DONE]\n\n"


def data_frame(payload: Mapping[str, object]) -> bytes:
    """`data: <json>\\n\\n`: one chat chunk (or an error object) of a Chat Completions stream, which names no
    events; the stream ends with `DONE_FRAME`."""
    return b"data: " + orjson.dumps(payload) + b"\n\n"
