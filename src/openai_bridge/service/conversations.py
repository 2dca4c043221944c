"""Conversations (`/v1/conversations`), as OpenAI's API reference defines them: a conversation is an id, a
creation time, metadata and a list of items; responses created with `conversation` read its items as history
and add theirs to it (service/responses.py). Everything here is the tenant's: another tenant's conversation is
as missing as one that never was (a 404 naming the id, never a 403).

Items added here are kept as a response's input items are (`translate.history.input_items`): an id for each
item sent without one, messages in the shape OpenAI lists them; an `item_reference` is replaced by the item it
names. An id the conversation already holds, or that two of the items carry, is a 400, as on OpenAI: items
are found and paged by id."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ..errors import InvalidRequest, NotFound
from ..ids import now, random_id
from ..settings import Settings
from ..store.base import Conversation, JSONObject, Page, PageRequest, Store
from ..store.open import StoreSlot
from ..translate.history import Item, duplicates, input_items, references, resolved
from .stored import list_body

MAX_ITEMS = 20  # items per create or add, as OpenAI
MAX_METADATA = 16  # pairs
MAX_KEY = 64
MAX_VALUE = 512

_ROLES = ("user", "assistant", "system", "developer")


def conversation_body(conversation: Conversation) -> JSONObject:
    return {"id": conversation.id, "object": "conversation", "created_at": conversation.created_at,
            "metadata": dict(conversation.metadata)}


def metadata(value: object) -> dict[str, str]:
    """`metadata` checked as OpenAI checks it: an object of at most 16 string values, keys up to 64 characters,
    values up to 512; null is none."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest(f"Invalid type for 'metadata': expected an object, but got {_kind(value)} instead.",
                             param="metadata", code="invalid_type")
    if len(value) > MAX_METADATA:
        raise InvalidRequest(f"Invalid 'metadata': too many properties. Expected an object with at most "
                             f"{MAX_METADATA} properties, but got an object with {len(value)} properties instead.",
                             param="metadata", code="object_above_max_properties")
    for key, item in value.items():
        if len(key) > MAX_KEY:
            raise InvalidRequest(f"Invalid 'metadata': key too long. Expected keys with a maximum length of {MAX_KEY}, "
                                 f"but got a key with length {len(key)} instead.", param="metadata",
                                 code="string_above_max_length")
        if not isinstance(item, str):
            raise InvalidRequest(f"Invalid type for 'metadata.{key}': expected a string, but got {_kind(item)} "
                                 "instead.", param=f"metadata.{key}", code="invalid_type")
        if len(item) > MAX_VALUE:
            raise InvalidRequest(f"Invalid 'metadata.{key}': string too long. Expected a string with maximum length "
                                 f"{MAX_VALUE}, but got a string with length {len(item)} instead.",
                                 param=f"metadata.{key}", code="string_above_max_length")
    return {str(k): str(v) for k, v in value.items()}


def _kind(value: object) -> str:
    return {bool: "a boolean", int: "an integer", float: "a decimal", str: "a string", list: "an array",
            dict: "an object"}.get(type(value), "null" if value is None else type(value).__name__)


def _missing(conversation_id: str) -> NotFound:
    return NotFound(f"Conversation with id '{conversation_id}' not found.", param="conversation_id")


def _item_missing(item_id: str) -> NotFound:
    return NotFound(f"Item with id '{item_id}' not found.", param="item_id")


def _only(body: Mapping[str, object], allowed: tuple[str, ...]) -> None:
    for name in body:
        if name not in allowed:
            raise InvalidRequest(f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter")


class ConversationsService:
    def __init__(self, settings: Settings, store: StoreSlot, *, new_id: Callable[[str], str] = random_id,
                 clock: Callable[[], int] = now) -> None:
        self.settings = settings
        self.store = store
        self.new_id = new_id
        self.clock = clock

    async def create(self, tenant: str, body: Mapping[str, object]) -> JSONObject:
        """`POST /conversations {items?, metadata?}`: the new conversation, with its items."""
        _only(body, ("items", "metadata"))
        meta = metadata(body.get("metadata"))
        store = await self.store.get()
        raw = body.get("items")
        items = [] if raw is None else await self._items(store, tenant, raw, required=False)
        conversation = Conversation(self.new_id("conv"), self.clock(), meta)
        await store.create_conversation(tenant, conversation, items)
        return conversation_body(conversation)

    async def get(self, tenant: str, conversation_id: str) -> JSONObject:
        found = await (await self.store.get()).get_conversation(tenant, conversation_id)
        if found is None:
            raise _missing(conversation_id)
        return conversation_body(found)

    async def update(self, tenant: str, conversation_id: str, body: Mapping[str, object]) -> JSONObject:
        """`POST /conversations/{id} {metadata}`: the metadata replaced (null clears it)."""
        _only(body, ("metadata",))
        if "metadata" not in body:
            raise InvalidRequest("Missing required parameter: 'metadata'.", param="metadata",
                                 code="missing_required_parameter")
        found = await (await self.store.get()).update_conversation(tenant, conversation_id,
                                                                    metadata(body["metadata"]))
        if found is None:
            raise _missing(conversation_id)
        return conversation_body(found)

    async def delete(self, tenant: str, conversation_id: str) -> JSONObject:
        if not await (await self.store.get()).delete_conversation(tenant, conversation_id):
            raise _missing(conversation_id)
        return {"id": conversation_id, "object": "conversation.deleted", "deleted": True}

    async def list_items(self, tenant: str, conversation_id: str, page: PageRequest) -> JSONObject:
        found = await (await self.store.get()).list_conversation_items(tenant, conversation_id, page)
        if found is None:
            raise _missing(conversation_id)
        return list_body(found)

    async def add_items(self, tenant: str, conversation_id: str, body: Mapping[str, object]) -> JSONObject:
        """`POST /conversations/{id}/items {items}`: the items added, as a list object, in the order given."""
        _only(body, ("items",))
        store = await self.store.get()
        if await store.get_conversation(tenant, conversation_id) is None:
            raise _missing(conversation_id)
        items = await self._items(store, tenant, body.get("items"), required=True)
        for item in items:  # at most 20 lookups
            if await store.get_conversation_item(tenant, conversation_id, str(item["id"])) is not None:
                raise _duplicate(str(item["id"]))
        if not await store.append_conversation_items(tenant, conversation_id, items):
            raise _missing(conversation_id)  # deleted meanwhile
        return list_body(Page(items, str(items[0]["id"]), str(items[-1]["id"]), has_more=False))

    async def get_item(self, tenant: str, conversation_id: str, item_id: str) -> JSONObject:
        store = await self.store.get()
        found = await store.get_conversation_item(tenant, conversation_id, item_id)
        if found is None:
            if await store.get_conversation(tenant, conversation_id) is None:
                raise _missing(conversation_id)
            raise _item_missing(item_id)
        return found

    async def delete_item(self, tenant: str, conversation_id: str, item_id: str) -> JSONObject:
        """The conversation the item was deleted from, as OpenAI answers."""
        store = await self.store.get()
        conversation = await store.get_conversation(tenant, conversation_id)
        if conversation is None:
            raise _missing(conversation_id)
        if not await store.delete_conversation_item(tenant, conversation_id, item_id):
            raise _item_missing(item_id)
        return conversation_body(conversation)

    async def _items(self, store: Store, tenant: str, value: object, *, required: bool) -> list[Item]:
        """The `items` of a request, checked, with ids, references resolved, none twice."""
        if value is None and required:
            raise InvalidRequest("Missing required parameter: 'items'.", param="items",
                                 code="missing_required_parameter")
        if not isinstance(value, list):
            raise InvalidRequest(f"Invalid type for 'items': expected an array, but got {_kind(value)} instead.",
                                 param="items", code="invalid_type")
        if required and not value:
            raise InvalidRequest("Invalid 'items': empty array. Expected an array with minimum length 1, but got an "
                                 "empty array instead.", param="items", code="empty_array")
        if len(value) > MAX_ITEMS:
            raise InvalidRequest(f"Invalid 'items': array too long. Expected an array with maximum length {MAX_ITEMS}, "
                                 f"but got an array with length {len(value)} instead.", param="items",
                                 code="array_above_max_length")
        items = input_items(value, self.new_id, "items")
        for n, item in enumerate(items):
            _check_item(item, f"items[{n}]")
        refs = references(items)
        if refs:
            found: dict[str, Item] = {}
            for n, item_id in refs:
                referenced = await store.get_item(tenant, item_id)
                if referenced is None:
                    raise NotFound(f"Item with id '{item_id}' not found.", param=f"items[{n}].id")
                found[item_id] = referenced
            items = resolved(items, found)
        twice = duplicates(items)
        if twice is not None:
            raise _duplicate(twice)
        return items


def _duplicate(item_id: str) -> InvalidRequest:
    return InvalidRequest(f"Duplicate item found with id {item_id}. Remove duplicate items from your input and try "
                          "again.", param="items")


def _check_item(item: Item, param: str) -> None:
    """What a conversation item must have to be history later: a type, and for a message a role and content."""
    kind = item.get("type")
    if not isinstance(kind, str):
        raise InvalidRequest(f"'{param}' has no 'type' (and no 'role').", param=f"{param}.type")
    if kind == "message":
        if item.get("role") not in _ROLES:
            raise InvalidRequest(f"'{param}.role' must be one of {', '.join(_ROLES)}; got {item.get('role')!r}.",
                                 param=f"{param}.role")
        if not isinstance(item.get("content"), list):
            raise InvalidRequest(f"'{param}.content' must be a string or an array of content parts.",
                                 param=f"{param}.content")
