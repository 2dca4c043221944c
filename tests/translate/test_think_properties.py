"""Property tests for ThinkSplitter: any split of the content gives the same (reasoning, text)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from openai_bridge.translate import ThinkSplitter

OPEN, CLOSE = "<think>", "</think>"

# Fragments that stress the tag matcher: partial tags, whole tags, whitespace, non-ASCII.
FRAGMENTS = st.sampled_from([
    "<", ">", "/", "<t", "<thi", "<think", "<think>", "</", "</thi", "</think", "</think>", "<think></think>",
    " ", "\n", "\t", "\r\n", "\u3000", "é", "中", "😀", "x", "think", "a<b",
])
CONTENT = st.lists(st.one_of(FRAGMENTS, st.text(max_size=4)), max_size=12).map("".join)


def expected_split(content: str) -> tuple[str, str]:
    """The reference: a `<think>` block only counts at the start (after optional whitespace)."""
    stripped = content.lstrip()
    if not stripped.startswith(OPEN):
        return "", content
    rest = stripped[len(OPEN):]
    end = rest.find(CLOSE)
    if end < 0:
        return rest, ""  # unclosed (e.g. cut by max tokens): all reasoning
    return rest[:end], rest[end + len(CLOSE):].lstrip()


@st.composite
def splits(draw: st.DrawFn, text: str) -> list[str]:
    if draw(st.booleans()):
        return list(text)  # one character at a time
    cuts = sorted(set(draw(st.lists(st.integers(0, len(text)), max_size=8))))
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


def run(pieces: list[str], enabled: bool = True) -> tuple[str, str]:
    splitter = ThinkSplitter(enabled)
    reasoning: list[str] = []
    text: list[str] = []
    for piece in pieces:
        r, t = splitter.feed(piece)
        reasoning.append(r)
        text.append(t)
    r, t = splitter.flush()
    reasoning.append(r)
    text.append(t)
    return "".join(reasoning), "".join(text)


@settings(max_examples=400, deadline=None)
@given(content=CONTENT, data=st.data())
def test_any_split_matches_unsplit_and_reference(content: str, data: st.DataObject) -> None:
    pieces = data.draw(splits(content))
    assert "".join(pieces) == content
    whole = run([content])
    assert whole == expected_split(content)
    assert run(pieces) == whole


@settings(max_examples=200, deadline=None)
@given(
    lead=st.sampled_from(["", " ", "\n", "\n\n", " \t\n"]),
    reasoning=CONTENT.filter(lambda s: CLOSE not in s),
    gap=st.sampled_from(["", "\n", "\n\n", " "]),
    text=CONTENT,
    data=st.data(),
)
def test_think_block_is_split_off(lead: str, reasoning: str, gap: str, text: str, data: st.DataObject) -> None:
    content = f"{lead}{OPEN}{reasoning}{CLOSE}{gap}{text}"
    pieces = data.draw(splits(content))
    assert run(pieces) == (reasoning, text.lstrip())


@settings(max_examples=100, deadline=None)
@given(content=CONTENT, data=st.data())
def test_disabled_passes_everything_through(content: str, data: st.DataObject) -> None:
    assert run(data.draw(splits(content)), enabled=False) == ("", content)
