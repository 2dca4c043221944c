"""Split a leading `<think>...</think>` block off streamed content. Pure.

Models served without a reasoning parser (llama.cpp, Ollama's raw mode, many vLLM setups) put their
reasoning in the content, wrapped in think tags. The tags can be split across chunks at any byte, so
the splitter holds back only what could still be the start of a tag.

R1-distill style chat templates put the `<think>` in the prompt, so the answer is
`reasoning...</think>answer`. In "implicit" mode the content starts inside the block. Otherwise, when the
first piece already holds a `</think>` with no `<think>` before it (a whole non-stream answer), it is split
the same way, and `closing_tag_only` says so; a stream whose first pieces did not show it cannot take back
the text it already sent: the caller can learn from `closing_tag_only` (or the final text) for next time.
"""

from __future__ import annotations

OPEN = "<think>"
CLOSE = "</think>"


class ThinkSplitter:
    """Feed content pieces; get back `(reasoning, text)` pieces to emit now."""

    __slots__ = ("_state", "_held", "closing_tag_only")

    def __init__(self, mode: bool | str = True) -> None:
        # "start": not yet known whether content opens with <think>; "implicit": inside a block whose
        # <think> was in the prompt (a repeated one is dropped); "think": inside the block; "after": just after
        # </think> (leading newlines dropped); "text": plain content.
        self._state = "implicit" if mode == "implicit" else "start" if mode else "text"
        self._held = ""
        # The content closed a think block it never opened (see the module's doc).
        self.closing_tag_only = False

    def feed(self, piece: str) -> tuple[str, str]:
        if self._state == "text":
            return "", piece
        data = self._held + piece
        self._held = ""
        reasoning = ""
        text = ""
        while data:
            if self._state in ("start", "implicit"):
                stripped = data.lstrip()
                if stripped.startswith(OPEN):
                    self._state = "think"
                    data = stripped[len(OPEN):]
                    continue
                if not stripped or OPEN.startswith(stripped):
                    self._held = data  # could still become <think>
                    return reasoning, text
                if self._state == "implicit":
                    self._state = "think"
                    data = stripped
                    continue
                if CLOSE in stripped and OPEN not in stripped[:stripped.index(CLOSE)]:  # <think> was in the prompt
                    self.closing_tag_only = True
                    self._state = "think"
                    data = stripped
                    continue
                self._state = "text"
                return reasoning, data
            if self._state == "think":
                end = data.find(CLOSE)
                if end >= 0:
                    reasoning += data[:end]
                    data = data[end + len(CLOSE):]
                    self._state = "after"
                    continue
                keep = _partial_suffix(data, CLOSE)
                reasoning += data[: len(data) - keep]
                self._held = data[len(data) - keep:]
                return reasoning, text
            if self._state == "after":
                data = data.lstrip()
                if data:
                    self._state = "text"
                    text += data
                return reasoning, text
        return reasoning, text

    def flush(self) -> tuple[str, str]:
        """End of content: what is still held back is what it looked like."""
        held, self._held = self._held, ""
        if self._state == "think":
            return held, ""  # an unclosed block (e.g. cut by max tokens) is all reasoning
        if self._state in ("start", "implicit"):
            self._state = "text"
            return "", held
        return "", held if self._state == "text" else ""

    @property
    def in_reasoning(self) -> bool:
        return self._state == "think"


def _partial_suffix(data: str, tag: str) -> int:
    """Length of the longest suffix of `data` that is a proper prefix of `tag`."""
    for n in range(min(len(tag) - 1, len(data)), 0, -1):
        if data.endswith(tag[:n]):
            return n
    return 0
