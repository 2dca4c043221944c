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


def block(rest: str) -> tuple[str, str]:
    """Inside a think block: reasoning up to `</think>`, then the text without its leading whitespace."""
    end = rest.find(CLOSE)
    if end < 0:
        return rest, ""  # unclosed (e.g. cut by max tokens): all reasoning
    return rest[:end], rest[end + len(CLOSE):].lstrip()


def expected_split(pieces: list[str]) -> tuple[str, str]:
    """The reference. A `<think>` block counts only at the start (after optional whitespace). Content that
    closes a block it never opened (`reasoning</think>text`: the `<think>` was in the prompt) is split the same
    way, if the content seen when the splitter must decide (the first that is neither whitespace nor the start
    of `<think>`) already shows the `</think>`; text already handed on is never taken back."""
    content = "".join(pieces)
    seen = ""
    for piece in pieces:
        seen += piece
        stripped = seen.lstrip()
        if stripped and not OPEN.startswith(stripped):
            break
    stripped = seen.lstrip()
    if stripped.startswith(OPEN):
        return block(content.lstrip()[len(OPEN):])
    if CLOSE in stripped and OPEN not in stripped[:stripped.index(CLOSE)]:
        return block(content.lstrip())
    return "", content


@st.composite
def splits(draw: st.DrawFn, text: str) -> list[str]:
    if draw(st.booleans()):
        return list(text)  # one character at a time
    cuts = sorted(set(draw(st.lists(st.integers(0, len(text)), max_size=8))))
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


def run(pieces: list[str], mode: bool | str = True) -> tuple[str, str]:
    splitter = ThinkSplitter(mode)
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
def test_any_split_matches_the_reference(content: str, data: st.DataObject) -> None:
    pieces = data.draw(splits(content))
    assert "".join(pieces) == content
    assert run([content]) == expected_split([content])
    assert run(pieces) == expected_split(pieces)


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
    assert run(data.draw(splits(content)), mode=False) == ("", content)


@settings(max_examples=200, deadline=None)
@given(
    lead=st.sampled_from(["", " ", "\n", "\n\n"]),
    opened=st.booleans(),
    reasoning=CONTENT.filter(lambda s: CLOSE not in s and not s.lstrip().startswith(("<", OPEN))),
    gap=st.sampled_from(["", "\n", "\n\n", " "]),
    text=CONTENT,
    data=st.data(),
)
def test_implicit_mode_starts_inside_the_block(lead: str, opened: bool, reasoning: str, gap: str, text: str,
                                                data: st.DataObject) -> None:
    """R1-distill style: the `<think>` was in the prompt; one the model repeats anyway is dropped."""
    content = f"{lead}{OPEN if opened else ''}{reasoning}{CLOSE}{gap}{text}"
    expected = reasoning if opened else reasoning.lstrip()  # as in a leading block: kept as is after <think>
    assert run(data.draw(splits(content)), mode="implicit") == (expected, text.lstrip())


def test_a_whole_answer_that_closes_an_unopened_block_is_split_and_says_so() -> None:
    splitter = ThinkSplitter()
    assert splitter.feed("Let me see. 2+2=4.</think>\n\nIt is 4.") == ("Let me see. 2+2=4.", "It is 4.")
    assert splitter.closing_tag_only
    plain = ThinkSplitter()
    assert plain.feed("Use <think> then </think> tags.") == ("", "Use <think> then </think> tags.")
    assert not plain.closing_tag_only
