"""The cursor of a list request (`limit`, `order`, `after`, `before`), from its query string, checked as
OpenAI checks it."""

from __future__ import annotations

from fastapi import Request

from ..errors import InvalidRequest
from ..store.base import Order, PageRequest

_ORDERS: dict[str, Order] = {"asc": "asc", "desc": "desc"}


def page_request(request: Request, *, default_order: Order = "desc") -> PageRequest:
    query = request.query_params
    raw_limit = query.get("limit", "20")
    try:
        limit = int(raw_limit)
    except ValueError:
        limit = 0
    if not 1 <= limit <= 100:
        raise InvalidRequest(f"Invalid 'limit': {raw_limit!r}. Expected an integer from 1 to 100.", param="limit")
    order = query.get("order", default_order)
    if order not in _ORDERS:
        raise InvalidRequest(f"Invalid 'order': {order!r}. Expected 'asc' or 'desc'.", param="order")
    return PageRequest(limit, _ORDERS[order], query.get("after") or None, query.get("before") or None)
