"""A native upstream's non-stream Response, repaired. Pure.

The same rules as the stream machine's final object: the request's echo where the upstream left fields out
(llama.cpp sends none of them), an id on every item, statuses, usage with both detail objects, the cut rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from ...wire.responses import Response
from .items import Clock, NewId, id_prefix, repair_item, repair_usage
from .snapshot import CUT_REPORTED_COMPLETED, bare, base_envelope, complete, finish, max_output_tokens

_FINISHED = ("completed", "incomplete", "failed")
_STATUSES = (*_FINISHED, "in_progress", "queued", "cancelled")


def repair_response(response: Mapping[str, object], request: Mapping[str, object], *, model: str, new_id: NewId,
                    clock: Clock, store: bool = False, defects: list[str] | None = None) -> Response:
    """`response` (the upstream's, untrusted) completed for `request`; `model` where the upstream names none,
    `store` (the effective value) where it says nothing. The argument is left unchanged. `defects`, when
    given, gets what the upstream got wrong (as `StreamRepair.defects` says it)."""
    found: list[str] = defects if defects is not None else []
    if bare(response):
        found.append("a bare Response (fields a client needs are missing)")
    out = complete(response, base_envelope(response, request, model=model, new_id=new_id, clock=clock, store=store))
    status = out.get("status")
    if status not in _STATUSES:
        status = "completed"
    item_status = "completed" if status == "completed" else "in_progress" if status in ("in_progress", "queued") \
        else "incomplete"
    output = out.get("output")
    items = []
    for item in output if isinstance(output, list) else []:
        if isinstance(item, dict):
            item_id = item.get("id")
            if not (isinstance(item_id, str) and item_id) and "items without an id" not in found:
                found.append("items without an id")
            items.append(repair_item(item, item_id if isinstance(item_id, str) and item_id
                                     else new_id(id_prefix(item.get("type"))), item_status))
    out["output"] = items
    if status in _FINISHED:
        final = finish(out, str(status), limit=max_output_tokens(request), clock=clock)
        if final != status:  # cut: a non-stream answer's items all ended with it
            found.append(CUT_REPORTED_COMPLETED)
            for item in items:
                if item.get("status") == "completed":
                    item["status"] = "incomplete"
    else:
        out["status"] = status
        out["usage"] = repair_usage(out.get("usage"))
    return cast(Response, out)
