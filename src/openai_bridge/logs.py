"""The bridge's log format: one format for its own lines and uvicorn's, each line naming the request it is
about (or `-`), so that `grep req_...` finds everything one request did, warnings included."""

from __future__ import annotations

import logging
from contextvars import ContextVar

# Set for the duration of a request (the request-id middleware); tasks started meanwhile inherit it.
REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="-")
FORMAT = "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s"


class RequestIdFilter(logging.Filter):
    """Gives every record a `request_id`: its own when the caller passed one (`extra=`), else the current
    request's."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        if record.name == "uvicorn.error":  # uvicorn's general logger, errors or not
            record.name = "uvicorn"
        return True


# On the bridge's own logger, so that its records carry the id whatever handler takes them (a test's, an
# embedding application's); `configure` puts it on the handler too, for uvicorn's records.
logging.getLogger("openai_bridge").addFilter(RequestIdFilter())


def configure(level: str) -> None:
    """One handler on the root logger, for the bridge's loggers and uvicorn's alike (uvicorn is started
    without a logging config of its own, so its loggers propagate here)."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
