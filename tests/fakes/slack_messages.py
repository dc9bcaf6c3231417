"""Fake Slack chat.* methods and the message store behind conversations.history/replies."""

from __future__ import annotations

import copy
from typing import Any

from tests.fakes.slack_blocks import message_text, validate_blocks, validate_metadata
from tests.fakes.slack_store import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    TEAM_ID,
    JsonDict,
    SlackError,
    SlackStore,
)
from tests.fakes.slack_ts import next_ts

BOT_PROFILE = {
    "id": BOT_ID,
    "app_id": APP_ID,
    "name": "bridge",
    "team_id": TEAM_ID,
    "deleted": False,
    "icons": {},
    "updated": 1_700_000_000,
}


def bot_message(text: str, ts: str, **fields: Any) -> JsonDict:
    """A message as Slack stores one posted by the bot (None-valued fields left out)."""
    message: JsonDict = {
        "type": "message",
        "text": text,
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "app_id": APP_ID,
        "ts": ts,
        "team": TEAM_ID,
        "bot_profile": BOT_PROFILE,
    }
    message.update({key: value for key, value in fields.items() if value is not None})
    return message


def present(store: SlackStore, channel: str, message: JsonDict, *, metadata: bool) -> JsonDict:
    """A stored message as the read methods show it: thread summary, metadata on request."""
    shown = copy.deepcopy(message)
    if not metadata:
        shown.pop("metadata", None)
    replies = [
        m
        for m in store.messages.get(channel, [])
        if m.get("thread_ts") == message["ts"] and m["ts"] != message["ts"]
    ]
    if replies:
        shown.update(
            thread_ts=message["ts"],
            reply_count=len(replies),
            reply_users=sorted({str(m.get("user")) for m in replies}),
            reply_users_count=len({m.get("user") for m in replies}),
            latest_reply=replies[-1]["ts"],
        )
    return shown


def post_message(store: SlackStore, params: dict[str, Any]) -> JsonDict:
    channel = store.check_channel(params.get("channel"))
    blocks = validate_blocks(params.get("blocks"))
    metadata = validate_metadata(params.get("metadata"))
    text = message_text(params, blocks)
    thread_ts = params.get("thread_ts") or None
    message = bot_message(
        text,
        next_ts(),
        blocks=blocks,
        metadata=metadata,
        thread_ts=thread_ts,
        attachments=params.get("attachments") or None,
    )
    if thread_ts:
        parent = store.find_message(channel, str(thread_ts))
        message["parent_user_id"] = parent.get("user") if parent else None
    store.messages[channel].append(message)
    store.posts.append((channel, copy.deepcopy(message)))
    return {"channel": channel, "ts": message["ts"], "message": copy.deepcopy(message)}


def _own_message(store: SlackStore, params: dict[str, Any], action: str) -> tuple[str, JsonDict]:
    channel = store.check_channel(params.get("channel"))
    message = store.find_message(channel, str(params.get("ts")))
    if message is None:
        raise SlackError("message_not_found")
    if message.get("user") != BOT_USER_ID:
        raise SlackError(f"cant_{action}_message")
    return channel, message


def update_message(store: SlackStore, params: dict[str, Any]) -> JsonDict:
    channel, message = _own_message(store, params, "update")
    blocks = validate_blocks(params.get("blocks"))
    if params.get("text") is not None:
        message["text"] = message_text(params, blocks)
    if "blocks" in params:
        message.pop("blocks", None)
        if blocks:
            message["blocks"] = blocks
    if params.get("metadata"):
        message["metadata"] = validate_metadata(params.get("metadata"))
    message["edited"] = {"user": BOT_USER_ID, "ts": next_ts()}
    return {
        "channel": channel,
        "ts": message["ts"],
        "text": message["text"],
        "message": copy.deepcopy(message),
    }


def delete_message(store: SlackStore, params: dict[str, Any]) -> JsonDict:
    channel, message = _own_message(store, params, "delete")
    store.messages[channel].remove(message)
    return {"channel": channel, "ts": message["ts"]}


def post_ephemeral(store: SlackStore, params: dict[str, Any]) -> JsonDict:
    channel = store.check_channel(params.get("channel"))
    if not params.get("user"):
        raise SlackError("user_not_in_channel")
    blocks = validate_blocks(params.get("blocks"))
    ephemeral = {
        "channel": channel,
        "user": params["user"],
        "text": message_text(params, blocks),
        "blocks": blocks,
        "thread_ts": params.get("thread_ts"),
        "ts": next_ts(),
    }
    store.ephemerals.append(ephemeral)
    return {"message_ts": ephemeral["ts"]}


def get_permalink(store: SlackStore, params: dict[str, Any]) -> JsonDict:
    channel = store.check_channel(params.get("channel"))
    ts = str(params.get("message_ts") or "")
    if store.find_message(channel, ts) is None:
        raise SlackError("message_not_found")
    return {
        "channel": channel,
        "permalink": f"https://test.slack.com/archives/{channel}/p{ts.replace('.', '')}",
    }
