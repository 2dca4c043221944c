"""The settings reference in docs/settings.md is the code's own table (SOURCES), kept in step by this test:
`UPDATE_DOCS=1 uv run pytest tests/test_docs.py` rewrites it."""

import os
import re
from pathlib import Path

from openai_bridge.settings import SOURCES, default_of

ROOT = Path(__file__).resolve().parents[1]
SETTINGS_DOC = ROOT / "docs" / "settings.md"
BEGIN, END = "<!-- settings table: generated from openai_bridge.settings.SOURCES -->", "<!-- end of settings table -->"


def settings_table() -> str:
    rows = ["| environment | flag | default | values | meaning |", "|---|---|---|---|---|"]
    for src in SOURCES:
        cells = [f"`{src.env}`", f"`{src.flag}`" if src.flag else "", f"`{default_of(src)}`", src.allowed, src.meaning]
        rows.append("| " + " | ".join(c.replace("|", "\\|").replace("<", "&lt;") for c in cells) + " |")
    return "\n".join(rows)


def test_settings_doc_is_the_code_table():
    text = SETTINGS_DOC.read_text()
    head, _, rest = text.partition(BEGIN + "\n")
    _, _, tail = rest.partition(END)
    expected = head + BEGIN + "\n" + settings_table() + "\n" + END + tail
    if os.environ.get("UPDATE_DOCS"):
        SETTINGS_DOC.write_text(expected)
    assert text == expected, "docs/settings.md is out of date: UPDATE_DOCS=1 uv run pytest tests/test_docs.py"


def test_docs_name_no_setting_the_code_lacks():
    readme = (ROOT / "README.md").read_text() + "".join(p.read_text() for p in (ROOT / "docs").glob("*.md"))
    known = {src.env for src in SOURCES}
    named = set(re.findall(r"\bBRIDGE_[A-Z_]+[A-Z]\b", readme))
    assert named <= known, f"documented but not settings: {named - known}"
