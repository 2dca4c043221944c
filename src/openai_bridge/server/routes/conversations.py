"""`/v1/conversations`: create, retrieve, update (`POST /{id}`) and delete a conversation; list, add, retrieve
and delete its items. Every one is the caller's (its tenant): another caller's conversation is a 404."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ...service.conversations import ConversationsService
from ..body import read_json
from ..errors import json_response
from ..pages import page_request
from ..tenants import tenant

router = APIRouter()


def _service(request: Request) -> ConversationsService:
    service: ConversationsService = request.app.state.conversations
    return service


@router.post("/conversations")
async def create_conversation(request: Request) -> Response:
    service = _service(request)
    body = await read_json(request, service.settings.limits, empty={})
    return json_response(await service.create(tenant(request.scope), body))


@router.get("/conversations/{conversation_id}")
async def get_conversation(request: Request, conversation_id: str) -> Response:
    return json_response(await _service(request).get(tenant(request.scope), conversation_id))


@router.post("/conversations/{conversation_id}")
async def update_conversation(request: Request, conversation_id: str) -> Response:
    service = _service(request)
    body = await read_json(request, service.settings.limits)
    return json_response(await service.update(tenant(request.scope), conversation_id, body))


@router.delete("/conversations/{conversation_id}")
async def delete_conversation(request: Request, conversation_id: str) -> Response:
    return json_response(await _service(request).delete(tenant(request.scope), conversation_id))


@router.get("/conversations/{conversation_id}/items")
async def list_items(request: Request, conversation_id: str) -> Response:
    """`limit`, `order` (default `desc`), `after`; `include` is accepted and has nothing to add here."""
    return json_response(await _service(request).list_items(tenant(request.scope), conversation_id,
                                                           page_request(request)))


@router.post("/conversations/{conversation_id}/items")
async def add_items(request: Request, conversation_id: str) -> Response:
    service = _service(request)
    body = await read_json(request, service.settings.limits)
    return json_response(await service.add_items(tenant(request.scope), conversation_id, body))


@router.get("/conversations/{conversation_id}/items/{item_id}")
async def get_item(request: Request, conversation_id: str, item_id: str) -> Response:
    return json_response(await _service(request).get_item(tenant(request.scope), conversation_id, item_id))


@router.delete("/conversations/{conversation_id}/items/{item_id}")
async def delete_item(request: Request, conversation_id: str, item_id: str) -> Response:
    return json_response(await _service(request).delete_item(tenant(request.scope), conversation_id, item_id))
