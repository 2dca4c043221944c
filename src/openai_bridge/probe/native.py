"""Is an upstream's native Responses stream well-formed? Run it through the bridge's own repair machine
(`translate.StreamRepair`) and name what the repair had to add: a field an event lacked, a snapshot without
the request's echo, a closing event left out, a terminal status the cut rule changed, a missing terminal.

The repair keeps every field an upstream sent as it came, so what it added is exactly what was missing:
events are paired by type and order (the n-th `output_text.delta` in with the n-th out), and the keys (and
one level down: `response`, `item`, `part`, `response.usage`) present out but absent or null in are counted.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping, Sequence

from ..translate import StreamRepair
from ..upstream.base import NamedEvent

_TERMINAL = ("response.completed", "response.incomplete", "response.failed")
_NESTED = ("response", "item", "part")
_SHOWN = 4  # field names shown per kind of defect


def judge(events: Sequence[NamedEvent], request: Mapping[str, object], *, model: str, said_done: bool) -> list[str]:
    """What is wrong with the stream `events` (as the upstream sent them) that answered `request`; empty when
    nothing is. `said_done`: the stream ended with `data: [DONE]` (older servers; harmless)."""
    counter = itertools.count()
    repair = StreamRepair(request, model=model, new_id=lambda prefix: f"{prefix}_probe{next(counter)}", clock=lambda: 0)
    out: list[Mapping[str, object]] = []
    for name, data in events:
        out += repair.feed(name, data)
    if not repair.done:
        out += repair.finish()
    defects: list[str] = []
    unnamed = sum(1 for name, _ in events if not name)
    if unnamed:
        defects.append(f"data-only frames, no 'event:' names ({unnamed} of {len(events)})")
    raw = [dict(data) if "type" in data or not name else {"type": name, **data} for name, data in events]
    defects += _missing_fields(raw, out)
    defects += _extra_events(raw, out, repair.dropped)
    defects += _terminal(raw, out)
    if said_done:
        defects.append("ends with data: [DONE] (older servers; harmless)")
    return defects


def _group(events: Sequence[Mapping[str, object]]) -> dict[str, list[Mapping[str, object]]]:
    """Events by type; every terminal event under one key, so a status the repair changed still pairs."""
    groups: dict[str, list[Mapping[str, object]]] = {}
    for event in events:
        kind = str(event.get("type"))
        groups.setdefault("(terminal)" if kind in _TERMINAL else kind, []).append(event)
    return groups


def _missing_fields(raw: Sequence[Mapping[str, object]], out: Sequence[Mapping[str, object]]) -> list[str]:
    top: Counter[str] = Counter()
    nested: dict[str, Counter[str]] = {key: Counter() for key in _NESTED}
    paired = 0
    theirs, ours = _group(raw), _group(out)
    for kind, events in theirs.items():
        for before, after in zip(events, ours.get(kind, ()), strict=False):
            paired += 1
            top.update(_lacking(before, after, skip=_NESTED))
            for key in _NESTED:
                inner_before, inner_after = before.get(key), after.get(key)
                if isinstance(inner_after, dict):
                    inner = inner_before if isinstance(inner_before, dict) else {}
                    lacking = _lacking(inner, inner_after, skip=("usage",))
                    usage = inner_after.get("usage")
                    if isinstance(usage, dict) and inner.get("usage") is not None:
                        lacking += [f"usage.{k}" for k in _lacking(_as_dict(inner.get("usage")), usage)]
                    nested[key].update(lacking)
                    if lacking:
                        nested[key]["(events)"] += 1
    defects = [f"no {field} ({count} of {paired} events)" for field, count in top.most_common()]
    for key, counts in nested.items():
        events_with = counts.pop("(events)", 0)
        if events_with:
            names = list(counts)  # in the order the repaired objects have them (id, created_at, model, ...)
            more = f", ... ({len(names)} fields)" if len(names) > _SHOWN else ""
            label = {"response": "bare response snapshots", "item": "incomplete items", "part": "incomplete parts"}[key]
            defects.append(f"{label} ({events_with}: no {', '.join(names[:_SHOWN])}{more})")
    return defects


def _lacking(before: Mapping[str, object], after: Mapping[str, object], skip: Sequence[str] = ()) -> list[str]:
    return [key for key, value in after.items()
            if key not in skip and value is not None and before.get(key) is None]


def _as_dict(value: object) -> Mapping[str, object]:
    return value if isinstance(value, dict) else {}


def _extra_events(raw: Sequence[Mapping[str, object]], out: Sequence[Mapping[str, object]],
                  dropped: Sequence[str]) -> list[str]:
    theirs = Counter({k: len(v) for k, v in _group(raw).items()})
    ours = Counter({k: len(v) for k, v in _group(out).items()})
    added = ours - theirs
    added.pop("(terminal)", None)  # a missing terminal is said on its own
    defects = []
    if added:
        shown = ", ".join(f"{kind.removeprefix('response.')}" + (f" x{n}" if n > 1 else "")
                          for kind, n in added.most_common())
        defects.append(f"events left out, added by the repair: {shown}")
    if dropped:
        defects.append(f"events the repair could not place: {', '.join(sorted(set(dropped)))}")
    return defects


def _terminal(raw: Sequence[Mapping[str, object]], out: Sequence[Mapping[str, object]]) -> list[str]:
    said = [str(e.get("type")) for e in raw if e.get("type") in _TERMINAL]
    final = str(out[-1].get("type")) if out else ""
    if not said:
        return ["no terminal event (the stream just stopped)"]
    if said[-1] != final:
        why = " (cut by max_output_tokens)" if final == "response.incomplete" else ""
        return [f"says {said[-1].removeprefix('response.')} where it is {final.removeprefix('response.')}{why}"]
    return []
