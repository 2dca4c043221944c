"""Property tests for SSE framing and the incremental decoder: any split of the bytes, same payloads."""

from __future__ import annotations

import time

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openai_bridge.wire.sse import KEEPALIVE, SSEDecoder, SSEError, frame

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
EVENTS = st.builds(
    lambda t, extra: {"type": t, **extra, "sequence_number": 0},
    st.sampled_from(["response.created", "response.output_text.delta", "response.completed"]),
    st.dictionaries(st.sampled_from(["delta", "text", "item", "x"]), JSON_VALUES, max_size=3),
)
# A data payload line: no line break inside (a line break would end the field).
DATA_LINE = st.lists(
    st.one_of(
        st.sampled_from([" ", "  ", ":", "data:", "event: x", "{}", "é", "😀", "\u2028"]),
        st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=4),
    ),
    max_size=4,
).map("".join)


@st.composite
def splits(draw: st.DrawFn, blob: bytes) -> list[bytes]:
    if draw(st.booleans()):
        return [blob[i:i + 1] for i in range(len(blob))]  # one byte at a time (also splits \r\n)
    cuts = sorted(set(draw(st.lists(st.integers(0, len(blob)), max_size=12))))
    bounds = [0, *cuts, len(blob)]
    return [blob[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


def decode(pieces: list[bytes]) -> list[tuple[str | None, bytes]]:
    decoder = SSEDecoder()
    out: list[tuple[str | None, bytes]] = []
    for piece in pieces:
        out.extend(decoder.feed(piece))
    out.extend(decoder.close())
    return out


def test_frame_shape() -> None:
    event = {"type": "response.output_text.delta", "delta": "a\nb\r\n", "sequence_number": 3}
    blob = frame(event)
    assert blob == b"event: response.output_text.delta\ndata: " + orjson.dumps(event) + b"\n\n"
    assert blob.count(b"\n") == 3  # the JSON itself never contains a raw line break


@settings(max_examples=200, deadline=None)
@given(
    events=st.lists(EVENTS, min_size=1, max_size=5),
    keepalives=st.lists(st.booleans(), min_size=6, max_size=6),
    crlf=st.booleans(),
    data=st.data(),
)
def test_frames_survive_any_split(
    events: list[dict[str, object]], keepalives: list[bool], crlf: bool, data: st.DataObject
) -> None:
    blob = b""
    for event, keepalive in zip(events, keepalives, strict=False):
        if keepalive:
            blob += KEEPALIVE
        blob += frame(event)
    if keepalives[-1]:
        blob += KEEPALIVE
    if crlf:
        blob = blob.replace(b"\n", b"\r\n")
    expected = [(e["type"], orjson.dumps(e)) for e in events]
    assert decode([blob]) == expected
    assert decode(data.draw(splits(blob))) == expected
    assert [orjson.loads(p) for _, p in decode(data.draw(splits(blob)))] == events


@settings(max_examples=200, deadline=None)
@given(
    payloads=st.lists(st.lists(DATA_LINE, min_size=1, max_size=4), min_size=1, max_size=4),
    newline=st.sampled_from([b"\n", b"\r\n", b"\r"]),
    space=st.booleans(),
    comments=st.booleans(),
    data=st.data(),
)
def test_multiline_data_any_split(
    payloads: list[list[str]], newline: bytes, space: bool, comments: bool, data: st.DataObject
) -> None:
    blob = b""
    for lines in payloads:
        if comments:
            blob += b": keepalive" + newline
        blob += b"event: x" + newline
        for line in lines:
            blob += b"data:" + (b" " if space else b"") + line.encode() + newline
        blob += newline
        if comments:
            blob += b":" + newline + newline
    # One space after `data:` is part of the syntax; a second one belongs to the payload.
    expected = [
        ("x", b"\n".join((line if space else line.removeprefix(" ")).encode() for line in lines))
        for lines in payloads
    ]
    assert decode([blob]) == expected
    assert decode(data.draw(splits(blob))) == expected


@settings(max_examples=100, deadline=None)
@given(line=DATA_LINE, end=st.sampled_from([b"", b"\n", b"\r\n", b"\r"]), data=st.data())
def test_unterminated_last_event_flushed_on_close(line: str, end: bytes, data: st.DataObject) -> None:
    """An event without its blank line is flushed by close(), with the same payload as a terminated one."""
    blob = b"data: " + line.encode() + end
    expected = decode([blob + end + b"\n"])
    assert expected == [(None, line.encode())]
    assert decode(data.draw(splits(blob))) == expected


def test_event_name_belongs_to_its_event_only() -> None:
    blob = b"event: response.created\ndata: {}\n\ndata: [DONE]\n\nevent: orphan\n\ndata: 1\n\n"
    assert decode([blob]) == [("response.created", b"{}"), (None, b"[DONE]"), (None, b"1")]


def test_a_line_over_the_limit_is_an_error_however_it_is_split() -> None:
    decoder = SSEDecoder(max_line=1000)
    decoder.feed(b"data: " + b"x" * 900)
    with pytest.raises(SSEError, match="longer than 1000 bytes"):
        decoder.feed(b"x" * 200)
    with pytest.raises(SSEError):
        SSEDecoder(max_line=1000).feed(b"data: ok\n\ndata: " + b"y" * 1001 + b"\n")


def test_many_data_lines_of_one_event_are_bounded_too() -> None:
    decoder = SSEDecoder(max_line=1000)
    with pytest.raises(SSEError, match="more than 1000 bytes of data"):
        for _ in range(30):
            decoder.feed(b"data: " + b"z" * 50 + b"\n")


def test_the_default_limit_is_16_mb() -> None:
    assert SSEDecoder().max_line == 16 * 1024 * 1024


def test_a_long_line_fed_in_small_reads_costs_linear_time() -> None:
    """A 4 MB event arriving 1 KB per read: the old decoder re-joined its whole buffer on every read
    (8 GB copied, seconds); joined once, it takes milliseconds. The bound is 100 times the linear cost."""
    decoder = SSEDecoder()
    piece = b"x" * 1024
    started = time.perf_counter()
    decoder.feed(b"data: ")
    for _ in range(4096):
        decoder.feed(piece)
    events = decoder.feed(b"\n\n")
    assert time.perf_counter() - started < 1.0
    assert events == [(None, piece * 4096)]
