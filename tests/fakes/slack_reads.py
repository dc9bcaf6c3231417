"""Fake Slack read methods: conversations.*, users.info, auth.test, reactions, statuses."""

from __future__ import annotations

import base64
import binascii
import copy
from typing import Any

from tests.fakes.slack_blocks import is_true
from tests.fakes.slack_messages import present
from tests.fakes.slack_store import (
    BOT_ID,
    BOT_USER_ID,
    TEAM_ID,
    JsonDict,
    Method,
    SlackError,
    SlackStore,
)
from tests.fakes.slack_ts import ts_key

CREATED = 1_700_000_000


def auth_test(store: SlackStore, params: dict[str, Any]) -> JsonDict:
    return {
        "url": "https://test.slack.com/",
        "team": "Test",
        "user": "bridge",
        "team_id": TEAM_ID,
        "user_id": BOT_USER_ID,
        "bot_id": BOT_ID,
        "is_enterprise_install": False,
    }


def _in_range(ts: str, params: dict[str, Any]) -> bool:
    inclusive = is_true(params.get("inclusive"))
    oldest, latest = params.get("oldest"), params.get("latest")
    if oldest and (ts_key(ts) < ts_key(str(oldest)) or (ts == oldest and not inclusive)):
        return False
    return not (latest and (ts_key(ts) > ts_key(str(latest)) or (ts == latest and not inclusive)))


def _cursor(ts: str) -> str:
    """An opaque cursor as Slack's look: base64 of "next_ts:<ts of the next page's first>"."""
    return base64.b64encode(f"next_ts:{ts}".encode()).decode()


def _cursor_ts(cursor: str) -> str:
    try:
        decoded = base64.b64decode(cursor, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise SlackError("invalid_cursor") from None
    if not decoded.startswith("next_ts:"):
        raise SlackError("invalid_cursor")
    return decoded.removeprefix("next_ts:")


def _page(
    messages: list[JsonDict],
    params: dict[str, Any],
    *,
    default_limit: int,
    max_limit: int,
    newest_first: bool,
) -> JsonDict:
    """One page of `messages` (in page order), continued by `cursor`/`next_cursor`, as Slack
    pages: the cursor names where the next page starts, so messages posted between two
    page reads do not shift it, and `limit` is capped at the method's maximum."""
    start = 0
    if params.get("cursor"):
        at = ts_key(_cursor_ts(str(params["cursor"])))
        start = next(
            (
                n
                for n, m in enumerate(messages)
                if (ts_key(m["ts"]) <= at if newest_first else ts_key(m["ts"]) >= at)
            ),
            len(messages),
        )
    limit = min(int(params.get("limit") or default_limit), max_limit)
    page = messages[start : start + limit]
    more = start + limit < len(messages)
    return {
        "messages": page,
        "has_more": more,
        "response_metadata": {
            "next_cursor": _cursor(messages[start + limit]["ts"]) if more else ""
        },
    }


def history(store: SlackStore, params: dict[str, Any]) -> JsonDict:
    channel = store.check_channel(params.get("channel"))
    metadata = is_true(params.get("include_all_metadata"))
    top_level = [
        m
        for m in store.messages.get(channel, [])
        if m.get("thread_ts") in (None, m["ts"]) or m.get("reply_broadcast")
    ]
    shown = [
        present(store, channel, m, metadata=metadata)
        for m in sorted(top_level, key=lambda m: ts_key(m["ts"]), reverse=True)
        if _in_range(m["ts"], params)
    ]
    return {
        # conversations.history: newest first, 100 by default, at most 999 a page.
        **_page(shown, params, default_limit=100, max_limit=999, newest_first=True),
        "pin_count": 0,
        "channel_actions_ts": None,
        "channel_actions_count": 0,
    }


def replies(store: SlackStore, params: dict[str, Any]) -> JsonDict:
    channel = store.check_channel(params.get("channel"))
    ts = str(params.get("ts") or "")
    if not ts:
        raise SlackError("thread_not_found")
    stored = store.messages.get(channel, [])
    anchor = store.find_message(channel, ts)
    root = str(anchor.get("thread_ts") or ts) if anchor else ts
    thread = [m for m in stored if m["ts"] == root or m.get("thread_ts") == root]
    if not thread:
        raise SlackError("thread_not_found")
    metadata = is_true(params.get("include_all_metadata"))
    ordered = sorted(thread, key=lambda m: ts_key(m["ts"]))
    shown = [
        present(store, channel, m, metadata=metadata)
        for m in ordered
        if m["ts"] == root or _in_range(m["ts"], params)
    ]
    # conversations.replies: oldest first (the parent on top), at most 1,000 a page.
    return _page(shown, params, default_limit=1000, max_limit=1000, newest_first=False)


def channel_info(store: SlackStore, channel: str) -> JsonDict:
    base: JsonDict = {
        "id": channel,
        "created": CREATED,
        "is_archived": False,
        "is_org_shared": False,
        "context_team_id": TEAM_ID,
    }
    if channel.startswith("D"):
        user = channel.removeprefix("D0DM") if channel.startswith("D0DM") else "U0USER"
        base.update(is_im=True, user=user, is_user_deleted=False, priority=0)
    else:
        name = f"chan-{channel.lower()}"
        base.update(
            name=name,
            name_normalized=name,
            is_channel=channel.startswith("C"),
            is_group=channel.startswith("G"),
            is_im=False,
            is_mpim=False,
            is_private=not channel.startswith("C"),
            is_general=False,
            is_member=True,
            creator="U0ADMIN",
            topic={"value": "", "creator": "", "last_set": 0},
            purpose={"value": "", "creator": "", "last_set": 0},
        )
    return base


def conversations_info(store: SlackStore, params: dict[str, Any]) -> JsonDict:
    return {"channel": channel_info(store, store.check_channel(params.get("channel")))}


def conversations_open(store: SlackStore, params: dict[str, Any]) -> JsonDict:
    users = params.get("users")
    if isinstance(users, str):
        users = [u for u in users.split(",") if u]
    if not users:
        if params.get("channel"):
            return {"channel": {"id": store.check_channel(params["channel"])}}
        raise SlackError("users_list_not_supplied")
    channel = "D0DM" + users[0] if len(users) == 1 else "G0MP" + "".join(sorted(users))
    if is_true(params.get("return_im")):
        return {"channel": channel_info(store, channel)}
    return {"channel": {"id": channel}}


def default_user(user_id: str) -> JsonDict:
    name = "bridge" if user_id == BOT_USER_ID else user_id.lower()
    real_name = "Bridge" if user_id == BOT_USER_ID else f"Test User {user_id}"
    return {
        "id": user_id,
        "team_id": TEAM_ID,
        "name": name,
        "deleted": False,
        "color": "9f69e7",
        "real_name": real_name,
        "tz": "Europe/Berlin",
        "tz_label": "Central European Time",
        "tz_offset": 3600,
        "is_admin": False,
        "is_owner": False,
        "is_primary_owner": False,
        "is_restricted": False,
        "is_ultra_restricted": False,
        "is_bot": user_id == BOT_USER_ID,
        "is_app_user": False,
        "updated": CREATED,
        "profile": {
            "title": "Engineer",
            "phone": "",
            "real_name": real_name,
            "real_name_normalized": real_name,
            "display_name": name,
            "display_name_normalized": name,
            "status_text": "",
            "status_emoji": "",
            "email": f"{name}@example.com",
            "team": TEAM_ID,
            "image_72": "https://example.com/avatar_72.png",
        },
    }


def users_info(store: SlackStore, params: dict[str, Any]) -> JsonDict:
    user_id = params.get("user")
    if not user_id:
        raise SlackError("user_not_found")
    user = default_user(str(user_id))
    override = copy.deepcopy(store.users.get(str(user_id), {}))
    user["profile"].update(override.pop("profile", {}))
    user.update(override)
    if is_true(params.get("include_locale")):
        user.setdefault("locale", "en-US")
    return {"user": user}


def _reaction_key(store: SlackStore, params: dict[str, Any]) -> tuple[tuple[str, str], str]:
    channel = store.check_channel(params.get("channel"))
    if not params.get("timestamp"):
        raise SlackError("no_item_specified")
    if not params.get("name"):
        raise SlackError("invalid_name")
    return (channel, str(params["timestamp"])), str(params["name"])


def reactions_add(store: SlackStore, params: dict[str, Any]) -> JsonDict:
    key, name = _reaction_key(store, params)
    if name in store.reactions[key]:
        raise SlackError("already_reacted")
    store.reactions[key].add(name)
    return {}


def reactions_remove(store: SlackStore, params: dict[str, Any]) -> JsonDict:
    key, name = _reaction_key(store, params)
    if name not in store.reactions[key]:
        raise SlackError("no_reaction")
    store.reactions[key].discard(name)
    return {}


def assistant_thread_call(field: str) -> Method:
    """assistant.threads.setStatus / setTitle / setSuggestedPrompts: validate and record.

    setSuggestedPrompts takes no thread_ts in the agent view (the prompts are the DM's);
    the others need one.
    """

    def method(store: SlackStore, params: dict[str, Any]) -> JsonDict:
        needs_thread = field != "prompts"
        if not params.get("channel_id") or field not in params:
            raise SlackError("invalid_arguments")
        if needs_thread and not params.get("thread_ts"):
            raise SlackError("invalid_arguments")
        store.check_channel(params["channel_id"])
        store.statuses.append({"kind": field, **params})
        return {}

    return method
