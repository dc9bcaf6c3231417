"""The `/assistant` slash command: list, use NAME, current, reset, help (ephemeral answers)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages
from bot.assistants import Assistants
from bot.config import ChannelScope, DmScope, Settings
from bot.keys import choice_keys
from handlers.routing import channel_key, missing
from storage import choices, conversations
from storage.db import Database

log = logging.getLogger(__name__)

# How long the ack of `/assistant list|use` waits for `conversations.info` (see below).
MEMBER_CHECK_SECONDS = 1.0


@dataclass(frozen=True)
class Place:
    """Where a command was typed, and the conversation key it acts on."""

    key: str
    is_dm: bool
    where: str  # "in your DMs" / "in this channel"


def place_of(command: dict[str, Any], scope: ChannelScope) -> Place:
    team, channel, user = command["team_id"], command["channel_id"], command["user_id"]
    if channel.startswith("D") or command.get("channel_name") == "directmessage":
        return Place(key=f"user:{team}/{user}", is_dm=True, where="in your DMs")
    # A thread-scoped channel has no thread here: the choice is the channel's, which
    # every thread without its own follows.
    effective = ChannelScope.CHANNEL if scope is ChannelScope.THREAD else scope
    key = channel_key(scope=effective, team=team, channel=channel, user=user, thread_ts="")
    where = "for you in this channel" if scope is ChannelScope.USER else "in this channel"
    return Place(key=key, is_dm=False, where=where)


def register(app: AsyncApp, *, db: Database, settings: Settings, assistants: Assistants) -> None:
    @app.command("/assistant")
    async def on_command(
        ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, context: Any
    ) -> None:
        lacking = missing(command, "team_id", "channel_id", "user_id")
        if lacking:
            log.warning("ignored a slash command without %s", " or ".join(lacking))
            await ack()
            return
        words = str(command.get("text") or "").split()
        verb, args = (words[0].lower(), words[1:]) if words else ("help", [])
        place = place_of(command, settings.channel_scope)
        handler = {"list": _list, "use": _use, "current": _current, "reset": _reset}.get(verb)
        if handler is None:
            await ack(text=messages.COMMAND_HELP, response_type="ephemeral")
            return
        text = await handler(place, args, command)
        if (
            not place.is_dm
            and verb in ("list", "use")
            and not await _bot_is_member(client, command)
        ):
            text += "\n" + messages.NOT_IN_CHANNEL.format(bot=context.get("bot_user_id") or "")
        await ack(text=text, response_type="ephemeral")

    async def chosen(place: Place) -> tuple[str, datetime | None]:
        async with db.ingest() as session:
            choice = await choices.current_choice(session=session, keys=choice_keys(place.key))
        if choice is not None and assistants.get(choice.assistant) is not None:
            return choice.assistant, choice.chosen_at
        return assistants.default_name, None

    async def _list(place: Place, _args: list[str], _command: dict[str, Any]) -> str:
        current, _ = await chosen(place)
        lines = []
        for name in assistants.names:
            one = assistants.by_name[name]
            marks = " _(answers here)_" if name == current else ""
            about = f" — {one.description}" if one.description else ""
            lines.append(f"• *{name}*{about}{marks}")
        return "\n".join(lines)

    async def _use(place: Place, args: list[str], command: dict[str, Any]) -> str:
        if len(args) != 1:
            return messages.COMMAND_HELP
        name = args[0]
        if assistants.get(name) is None:
            return messages.UNKNOWN_ASSISTANT.format(
                name=name, names=", ".join(f"`{n}`" for n in assistants.names)
            )
        if not _may_change(place, command):
            return messages.ADMINS_ONLY
        current, _ = await chosen(place)
        if name == current:
            return messages.ALREADY_USING.format(name=name, where=place.where)
        async with db.ingest() as session:
            await choices.choose_assistant(
                session=session, key=place.key, assistant=name, user_id=command["user_id"]
            )
        log.info("%s switched %s to assistant %s", command["user_id"], place.key, name)
        return messages.NOW_USING.format(name=name, where=place.where, resume=messages.RESUMING)

    async def _current(place: Place, _args: list[str], _command: dict[str, Any]) -> str:
        name, since = await chosen(place)
        when = f" since {since:%Y-%m-%d %H:%M} UTC" if since else " (the default)"
        return messages.CURRENT.format(name=name, where=place.where, since=when)

    async def _reset(place: Place, _args: list[str], command: dict[str, Any]) -> str:
        if not place.is_dm and settings.channel_scope is ChannelScope.THREAD:
            return messages.RESET_THREAD_SCOPE
        # Each DM thread is a conversation of its own, and a new top-level message starts a
        # fresh one: as in a thread-scoped channel, there is nothing to reset.
        if place.is_dm and settings.dm_scope is DmScope.THREAD:
            return messages.RESET_DM_THREAD_SCOPE
        if not _may_change(place, command):
            return messages.ADMINS_ONLY
        name, _ = await chosen(place)
        async with db.ingest() as session:
            retired = await conversations.retire_conversation(
                session=session, key=place.key, assistant=name
            )
        if not retired:
            return messages.RESET_NOTHING.format(name=name, where=place.where)
        log.info("%s reset the conversation of %s with %s", command["user_id"], place.key, name)
        return messages.RESET_DONE.format(name=name, where=place.where)

    def _may_change(place: Place, command: dict[str, Any]) -> bool:
        return place.is_dm or not settings.admins or command["user_id"] in settings.admins


async def _bot_is_member(client: AsyncWebClient, command: dict[str, Any]) -> bool:
    """Whether the bot is in the command's channel (mentions there reach it only then).

    The answer is only for a hint, and the ack waits for it (Slack's 3 s): a Slack that
    is slow or unreachable gets `MEMBER_CHECK_SECONDS`, and then no hint.
    """
    try:
        async with asyncio.timeout(MEMBER_CHECK_SECONDS):
            info = await client.conversations_info(channel=command["channel_id"])
    except SlackApiError:
        return False  # a private channel the bot is not in is invisible to it
    except (TimeoutError, aiohttp.ClientError) as exc:
        log.info("conversations.info for the command's hint failed: %s", type(exc).__name__)
        return True
    return bool((info.get("channel") or {}).get("is_member"))
