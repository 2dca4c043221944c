"""One exception tree, mapped to OpenAI-shaped error JSON in one place.

Everything the bridge refuses or fails on is a `BridgeError`; the server turns it into
`{"error": {"message", "type", "param", "code"}}` with `status`, and the stream machine into
`response.failed`.
"""

from __future__ import annotations

from typing import Any


class BridgeError(Exception):
    status: int = 500
    type: str = "server_error"
    code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def internal_error(request_id: str) -> BridgeError:
    """What a client is told about a bug of the bridge's: not the exception's text (it may hold anything),
    but where to find it: the log line with this request id."""
    return BridgeError(f"Internal error in the bridge while answering request {request_id}; "
                       "its log has the details under that id.")


class InvalidRequest(BridgeError):
    """The client's request is malformed or asks for something the bridge cannot do (400)."""

    status = 400
    type = "invalid_request_error"


class ResponseCancelled(BridgeError):
    """A background response was cancelled (`POST /v1/responses/{id}/cancel`, from any worker or replica)."""

    status = 400
    type = "invalid_request_error"
    code = "cancelled"


class NotFound(BridgeError):
    status = 404
    type = "invalid_request_error"
    code = "not_found"


class UpstreamError(BridgeError):
    """The upstream answered with an error status; its status and message are passed on, except where the
    bridge's own configuration is at fault (a 502: its key refused, a route the upstream does not have)."""

    type = "upstream_error"
    code = "upstream_error"
    # The status the upstream answered, whatever `status` the client gets: a 404 of a route the upstream does
    # not have is a 502 to the client, but telling "no such route" from other failures needs the 404.
    upstream_status: int | None = None
    # The upstream's `Retry-After` (a 429 or 503), passed on to the client.
    retry_after: str | None = None


class UpstreamUnreachable(BridgeError):
    status = 502
    type = "upstream_error"
    code = "upstream_unreachable"


class UpstreamTimeout(BridgeError):
    status = 504
    type = "upstream_error"
    code = "upstream_timeout"


class UpstreamProtocolError(BridgeError):
    """The upstream answered, but not with a chat completion or chunk stream we can read."""

    status = 502
    type = "upstream_error"
    code = "upstream_bad_response"


class ServerShuttingDown(BridgeError):
    """The bridge is stopping and this response could not finish in the grace period (503)."""

    status = 503
    type = "server_error"
    code = "server_shutting_down"
