"""Whose a request is: every stored object belongs to the caller that made it, and only that caller finds it.

The caller is the client's key when the bridge asks for keys (BRIDGE_API_KEYS: KeyCheck let the request in, so
its token is one of them), else the client's bearer token as it came (an unauthenticated bridge still keeps two
clients with different tokens apart; clients without a token share one tenant). Either way the tenant is a hash
(`tenant_of`): no key is ever stored."""

from __future__ import annotations

from starlette.types import Scope

from ..store.base import tenant_of
from .middleware import bearer_token


def tenant(scope: Scope) -> str:
    """The tenant of this request, computed once per request."""
    state = scope.setdefault("state", {})
    found = state.get("tenant")
    if found is None:
        found = state["tenant"] = tenant_of(bearer_token(scope) or "")
    return str(found)
