"""A probe's report as a terminal table (or JSON), and the settings it suggests, each with its reason."""

from __future__ import annotations

import textwrap
from dataclasses import asdict

from .checks import Findings, Report

type Suggestion = tuple[str, str, str]  # variable, value, why


def suggestions(found: Findings) -> list[Suggestion]:
    out: list[Suggestion] = []
    fields = found.fields
    if fields.get("max_tokens"):
        why = "max_completion_tokens is refused" if fields.get("max_completion_tokens") is False else \
            "both are accepted; max_tokens is the one every server knows"
        out.append(("BRIDGE_MAX_TOKENS_FIELD", "max_tokens", f"{why} (the default)"))
    elif fields.get("max_completion_tokens"):
        out.append(("BRIDGE_MAX_TOKENS_FIELD", "max_completion_tokens", "max_tokens is refused"))
    seen = found.reasoning
    if "</think>" in seen:
        out.append(("BRIDGE_THINK_TAGS", "implicit", "the content ends a <think> block it never opened: the chat "
                    "template opens it"))
    elif "<think>" in seen:
        out.append(("BRIDGE_THINK_TAGS", "1", "the reasoning comes as a <think> block in the content, which the "
                    "default splits off (the default)"))
    else:
        where = "in its own field" if seen else "none seen"
        out.append(("BRIDGE_THINK_TAGS", "1", f"no <think> block in the content (reasoning: {where}); the default "
                    "is harmless"))
    back = next((name for name in ("reasoning_content", "reasoning") if name in seen), None)
    if back:
        out.append(("BRIDGE_REASONING_BACK", back, f"the server sends reasoning as {back}, and such servers read "
                    "it back under that name; set it if the model wants its earlier reasoning (else leave it empty)"))
    else:
        out.append(("BRIDGE_REASONING_BACK", "", "no reasoning field seen: nothing to send back (the default)"))
    if found.native == "well-formed":
        out.append(("BRIDGE_UPSTREAM_MODE", "responses", "it serves a well-formed Responses stream itself"))
    elif found.native == "defective":
        out.append(("BRIDGE_UPSTREAM_MODE", "chat", "its own /responses stream is defective (the bridge would "
                    "repair it), while its chat completions work"))
    elif found.native == "no":
        out.append(("BRIDGE_UPSTREAM_MODE", "chat", "it has no usable /responses (auto learns the same after one "
                    "refusal)"))
    return out


def render(report: Report, width: int = 100) -> str:
    lines = [f"upstream {report.upstream}, model {report.model or '(none)'}"
             + (f" ({report.model_from})" if report.model else ""), ""]
    if not report.rows:  # unreachable: the error (on stderr) says it all
        return lines[0]
    rows = [("check", "result", "note")] + [(r.check, r.result, r.note) for r in report.rows]
    c1 = max(len(r[0]) for r in rows)
    c2 = min(max(len(r[1]) for r in rows), 24)
    note_width = max(30, width - c1 - c2 - 4)
    for i, (check, result, note) in enumerate(rows):
        wrapped = textwrap.wrap(note, note_width, break_on_hyphens=False) or [""]
        lines.append(f"{check:<{c1}}  {result:<{c2}}  {wrapped[0]}".rstrip())
        lines += [" " * (c1 + c2 + 4) + more for more in wrapped[1:]]
        if i == 0:
            lines.append(f"{'-' * c1}  {'-' * c2}  {'-' * min(note_width, 40)}")
    suggested = suggestions(report.found) if report.chat_ok else []
    if suggested:
        lines += ["", "suggested settings:"]
        for name, value, why in suggested:
            lines.append(f"  {name}={value}")
            lines += textwrap.wrap(why, width, initial_indent="      ", subsequent_indent="      ")
    return "\n".join(lines)


def as_json(report: Report) -> dict[str, object]:
    return {"upstream": report.upstream, "model": report.model, "model_from": report.model_from,
            "ok": report.chat_ok, "error": report.error, "checks": [asdict(r) for r in report.rows],
            "suggested": [{"name": n, "value": v, "why": w} for n, v, w in
                          (suggestions(report.found) if report.chat_ok else [])]}
