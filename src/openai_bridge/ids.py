"""Id and clock sources. The translators take these as arguments; only the service picks real ones."""

from __future__ import annotations

import secrets
import time


def random_id(prefix: str) -> str:
    """An id shaped like OpenAI's: `resp_` + 48 hex characters."""
    return f"{prefix}_{secrets.token_hex(24)}"


def now() -> int:
    return int(time.time())


class SequentialIds:
    """Repeatable ids for tests and golden files: `resp_0001`, `msg_0002`, ..."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}_{self.n:04d}"
