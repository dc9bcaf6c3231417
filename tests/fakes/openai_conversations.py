"""Fake Conversations API: conversations and their items."""

from __future__ import annotations

import re

from tests.fakes.openai_items import normalize_input
from tests.fakes.openai_shapes import ApiError, ApiRequest, JsonDict, Result, list_page, new_id
from tests.fakes.openai_store import ConversationRec, Store, now_int

MAX_CREATE_ITEMS = 20


def conversation_json(rec: ConversationRec) -> JsonDict:
    return {
        "id": rec.id,
        "object": "conversation",
        "created_at": rec.created_at,
        "metadata": dict(rec.metadata),
    }


def get_conversation_rec(store: Store, conversation_id: str) -> ConversationRec:
    rec = store.conversations.get(conversation_id)
    if rec is None:
        raise ApiError(404, f"Conversation with id '{conversation_id}' not found.")
    return rec


def _metadata(body: JsonDict) -> dict[str, str]:
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict) or len(metadata) > 16:
        raise ApiError(
            400, "Invalid 'metadata': at most 16 string key-value pairs.", param="metadata"
        )
    return {str(key): str(value) for key, value in metadata.items()}


def _new_items(body: JsonDict) -> list[JsonDict]:
    raw = body.get("items")
    if raw is not None and (not isinstance(raw, list) or len(raw) > MAX_CREATE_ITEMS):
        raise ApiError(
            400,
            f"Invalid 'items': expected an array of at most {MAX_CREATE_ITEMS} items.",
            param="items",
        )
    return normalize_input(raw or [])


def create_conversation(store: Store, req: ApiRequest, _: re.Match[str]) -> Result:
    body = req.body()
    rec = ConversationRec(new_id("conv"), now_int(), _metadata(body), _new_items(body))
    store.conversations[rec.id] = rec
    return conversation_json(rec)


def retrieve_conversation(store: Store, _: ApiRequest, match: re.Match[str]) -> Result:
    return conversation_json(get_conversation_rec(store, match["id"]))


def update_conversation(store: Store, req: ApiRequest, match: re.Match[str]) -> Result:
    rec = get_conversation_rec(store, match["id"])
    rec.metadata = _metadata(req.body())
    return conversation_json(rec)


def delete_conversation(store: Store, _: ApiRequest, match: re.Match[str]) -> Result:
    rec = get_conversation_rec(store, match["id"])
    del store.conversations[rec.id]
    return {"id": rec.id, "object": "conversation.deleted", "deleted": True}


def list_items(store: Store, req: ApiRequest, match: re.Match[str]) -> Result:
    return list_page(get_conversation_rec(store, match["id"]).items, req.query)


def create_items(store: Store, req: ApiRequest, match: re.Match[str]) -> Result:
    rec = get_conversation_rec(store, match["id"])
    items = _new_items(req.body())
    rec.items.extend(items)
    return {
        "object": "list",
        "data": items,
        "first_id": items[0]["id"] if items else None,
        "last_id": items[-1]["id"] if items else None,
        "has_more": False,
    }


def _item(rec: ConversationRec, item_id: str) -> JsonDict:
    for item in rec.items:
        if item.get("id") == item_id:
            return item
    raise ApiError(404, f"Item with id '{item_id}' not found.")


def retrieve_item(store: Store, _: ApiRequest, match: re.Match[str]) -> Result:
    return _item(get_conversation_rec(store, match["id"]), match["item"])


def delete_item(store: Store, _: ApiRequest, match: re.Match[str]) -> Result:
    rec = get_conversation_rec(store, match["id"])
    rec.items.remove(_item(rec, match["item"]))
    return conversation_json(rec)
