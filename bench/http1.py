"""The one piece of HTTP/1.1 both bench scripts parse by hand: a head's framing headers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Framing:
    length: int | None = None  # Content-Length
    chunked: bool = False
    close: bool = False  # Connection: close
    keep_alive: bool = False  # Connection: keep-alive
    expect_continue: bool = False


def framing(header_lines: list[str]) -> Framing:
    f = Framing()
    for line in header_lines:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        value = value.strip().lower()
        if name == "content-length":
            f.length = int(value)
        elif name == "transfer-encoding":
            f.chunked = "chunked" in value
        elif name == "connection":
            f.close = "close" in value
            f.keep_alive = "keep-alive" in value
        elif name == "expect":
            f.expect_continue = "100-continue" in value
    return f
