"""What both directions report about a request field they could not honour."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Dropped:
    """A request field the bridge could not honour: `param` names it as the client wrote it."""

    param: str
    reason: str
