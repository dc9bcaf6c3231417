"""Decide whether a Slack message event is a turn, and for which conversation key."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.config import ChannelScope, DmScope
from bot.file_rules import SlackFile
from storage.models import InboundMessage

# Subtypes that are a person writing: answered. Every other subtype (edits, deletions,
# joins, topic changes, bot messages…) starts no run.
USER_SUBTYPES = frozenset({None, "file_share", "thread_broadcast", "me_message"})


@dataclass(frozen=True)
class Incoming:
    """A user's message the bridge will answer, with where the answer goes."""

    key: str
    team_id: str
    channel_id: str
    user_id: str
    ts: str
    text: str
    reply_thread_ts: str | None
    is_mention: bool
    # The attached files, as Slack describes them (only usable entries).
    files: tuple[SlackFile, ...] = ()
    # A top-level DM message: in the agent view each one is the root of a thread of its own.
    starts_thread: bool = False

    def inbox_row(self, *, event_id: str | None, files: str | None = None) -> InboundMessage:
        """The `inbound_message` row that queues this message (`files`: the accepted
        attachments, as JSON)."""
        return InboundMessage(
            key=self.key,
            team_id=self.team_id,
            channel_id=self.channel_id,
            user_id=self.user_id,
            message_ts=self.ts,
            reply_thread_ts=self.reply_thread_ts,
            event_id=event_id,
            text=self.text,
            files=files,
        )


def is_from_bot(event: dict[str, Any], bot_user_id: str | None) -> bool:
    return bool(
        event.get("bot_id")
        or event.get("subtype") == "bot_message"
        or (bot_user_id is not None and event.get("user") == bot_user_id)
    )


def is_user_message(event: dict[str, Any]) -> bool:
    return event.get("subtype") in USER_SUBTYPES and bool(event.get("user"))


def missing(fields: dict[str, Any], *names: str) -> list[str]:
    """Which of `names` are absent or empty in `fields`, or not strings."""
    return [name for name in names if not fields.get(name) or not isinstance(fields[name], str)]


def mentions(text: str, bot_user_id: str | None) -> bool:
    return bot_user_id is not None and f"<@{bot_user_id}" in text


def strip_mention(text: str, bot_user_id: str | None) -> str:
    if bot_user_id is None:
        return text.strip()
    return re.sub(rf"<@{re.escape(bot_user_id)}(\|[^>]*)?>", "", text).strip()


def channel_key(*, scope: ChannelScope, team: str, channel: str, user: str, thread_ts: str) -> str:
    match scope:
        case ChannelScope.THREAD:
            return f"thread:{team}/{channel}/{thread_ts}"
        case ChannelScope.USER:
            return f"member:{team}/{channel}/{user}"
        case _:
            return f"channel:{team}/{channel}"


def attached_files(event: dict[str, Any]) -> tuple[SlackFile, ...]:
    found = (SlackFile.from_event(f) for f in event.get("files") or [] if isinstance(f, dict))
    return tuple(file for file in found if file is not None)


def team_of(body: dict[str, Any], event: dict[str, Any]) -> str:
    return str(event.get("team") or body.get("team_id") or "")


def dm_key(*, scope: DmScope, team: str, user: str, thread_ts: str) -> str:
    if scope is DmScope.THREAD:
        return f"dm:{team}/{user}/{thread_ts}"
    return f"user:{team}/{user}"


def route_direct(
    body: dict[str, Any],
    event: dict[str, Any],
    bot_user_id: str | None,
    scope: DmScope = DmScope.USER,
) -> Incoming:
    """A DM: the user's own conversation (DM_SCOPE=user), or the Slack thread's
    (DM_SCOPE=thread: a top-level message starts one and its answer opens that thread)."""
    team, user, ts = team_of(body, event), str(event["user"]), str(event["ts"])
    thread_ts = event.get("thread_ts")
    root = str(thread_ts or ts)
    return Incoming(
        key=dm_key(scope=scope, team=team, user=user, thread_ts=root),
        team_id=team,
        channel_id=str(event["channel"]),
        user_id=user,
        ts=ts,
        text=strip_mention(str(event.get("text") or ""), bot_user_id),
        reply_thread_ts=root if scope is DmScope.THREAD else thread_ts,
        is_mention=False,
        files=attached_files(event),
        starts_thread=not thread_ts,
    )


def route_channel(
    body: dict[str, Any],
    event: dict[str, Any],
    *,
    bot_user_id: str | None,
    scope: ChannelScope,
    is_mention: bool,
) -> Incoming:
    """A mention or a bot-thread follow-up: the reply goes into the Slack thread."""
    team, channel, user = team_of(body, event), str(event["channel"]), str(event["user"])
    thread_ts = str(event.get("thread_ts") or event["ts"])
    return Incoming(
        key=channel_key(scope=scope, team=team, channel=channel, user=user, thread_ts=thread_ts),
        team_id=team,
        channel_id=channel,
        user_id=user,
        ts=str(event["ts"]),
        text=strip_mention(str(event.get("text") or ""), bot_user_id),
        reply_thread_ts=thread_ts,
        is_mention=is_mention,
        files=attached_files(event),
    )


def bot_user_of(body: dict[str, Any], context: Any) -> str | None:
    """The bot's user id: from `auth.test` once known, else from the Events API body's
    `authorizations` (the installation the event is for: this bot)."""
    known = context.get("bot_user_id")
    if known:
        return str(known)
    authorizations = body.get("authorizations")
    if isinstance(authorizations, list) and authorizations:
        first = authorizations[0]
        if isinstance(first, dict) and first.get("user_id"):
            return str(first["user_id"])
    return None
