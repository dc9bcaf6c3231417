"""The message shortcut "Ask the assistant about this": a turn about a message, answered in a DM.

Before the ack (Bolt's process_before_response: the answer to Slack is sent when the
listener returns), within PRE_ACK_SECONDS: the thread is read (conversations.replies,
which also tells whether the bot may read the channel at all) and the user's DM with the
bot is opened (conversations.open), both at once; then the framed question is stored, as
every message is, so a crash after the ack loses nothing. Each is one fast call; a slow
Slack gets a "try again" note instead of a missed ack. The notes to the user and the
intro in the DM are cosmetic and run in the background.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages
from bot.config import Settings
from handlers.routing import Incoming, bot_user_of, dm_key
from handlers.shortcut_input import (
    ShortcutRequest,
    earlier_in_thread,
    framed_text,
    read_request,
)
from storage import inbox
from storage.db import Database

log = logging.getLogger(__name__)

CALLBACK_ID = "ask_assistant"
# Slack wants the ack within 3 s; the database write comes after these calls.
PRE_ACK_SECONDS = 2.0
# conversations.replies' answers for a channel the bot is not in, or may not see.
CANNOT_READ = frozenset({"not_in_channel", "channel_not_found"})
SLACK_FAILURES = (SlackApiError, aiohttp.ClientError, TimeoutError)
MAX_PAGES = 5

Spawn = Callable[[Coroutine[Any, Any, None], str], bool]
Accepted = Callable[[Incoming], None]


class CannotRead(Exception):
    """The bot may not read the message's channel."""


def register(
    app: AsyncApp, *, db: Database, settings: Settings, spawn: Spawn, on_accepted: Accepted
) -> None:
    """Attach the listener. `spawn` and `on_accepted` must return at once (they schedule)."""
    client = app.client

    @app.message_shortcut(CALLBACK_ID)
    async def on_shortcut(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, context: Any
    ) -> None:
        await ack()
        request = read_request(body)
        if request is None:
            log.warning("ignored a %s shortcut without its user, channel or message", CALLBACK_ID)
            return

        def note(text: str) -> None:
            spawn(tell(respond, request, text), "shortcut note")

        if not request.text and not request.file_names:
            note(messages.SHORTCUT_EMPTY)
            return
        try:
            async with asyncio.timeout(PRE_ACK_SECONDS):
                dm_channel, earlier = await gather_inputs(client, request)
        except CannotRead:
            bot = bot_user_of(body, context)
            name = f"<@{bot}>" if bot else "@assistant"
            note(messages.SHORTCUT_CANNOT_READ.format(where=request.where, bot=name))
            return
        except SLACK_FAILURES as exc:
            log.warning("shortcut not taken: conversations.open failed: %s", describe(exc))
            note(messages.SHORTCUT_FAILED)
            return
        text = framed_text(request, earlier, limit=settings.max_message_chars)
        incoming = Incoming(
            # DM_SCOPE=thread: a conversation of its own, as a new top-level DM message is.
            key=dm_key(
                scope=settings.dm_scope,
                team=request.team_id,
                user=request.user_id,
                thread_ts=request.action_ts,
            ),
            team_id=request.team_id,
            channel_id=dm_channel,
            user_id=request.user_id,
            # Not a Slack message's ts: the shortcut's own, which a retry repeats, so the
            # inbox's (channel, ts) constraint makes a retried payload one row.
            ts=request.action_ts,
            text=text,
            reply_thread_ts=None,
            is_mention=False,
        )
        row = incoming.inbox_row(
            event_id=f"shortcut:{request.trigger_id or request.action_ts}"[:64]
        )
        is_new = await db.store(lambda session: inbox.enqueue_message(session=session, message=row))
        if not is_new:
            log.debug("shortcut %s already stored (a retry)", request.action_ts)
            return
        spawn(introduce(client, request, dm_channel), "shortcut intro")
        on_accepted(incoming)
        note(messages.SHORTCUT_ANSWER_IN_DM)


async def gather_inputs(client: AsyncWebClient, request: ShortcutRequest) -> tuple[str, list[str]]:
    """(the user's DM channel with the bot, the thread's earlier lines), read at once."""
    opened, earlier = await asyncio.gather(
        client.conversations_open(users=request.user_id),
        read_thread(client, request),
        return_exceptions=True,
    )
    if isinstance(earlier, BaseException):
        raise earlier
    if isinstance(opened, BaseException):
        raise opened
    return str(opened["channel"]["id"]), earlier


async def read_thread(client: AsyncWebClient, request: ShortcutRequest) -> list[str]:
    """The thread's earlier lines; raises CannotRead if the bot may not read the channel."""
    if not request.thread_ts:
        # Only whether the bot may read the channel: the message itself is in the payload.
        await fetch_page(client, request, ts=request.message_ts, cursor=None, limit=1)
        return []
    replies: list[dict[str, Any]] = []
    cursor: str | None = None
    # Oldest first, parent on top, 1,000 a page at most: a long thread is read to the
    # asked-about message, MAX_PAGES at most, and its newest lines kept.
    for _ in range(MAX_PAGES):
        page = await fetch_page(client, request, ts=request.thread_ts, cursor=cursor, limit=1000)
        if page is None:
            break
        replies.extend(m for m in page.get("messages") or [] if isinstance(m, dict))
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
        if not page.get("has_more") or not cursor:
            break
    return earlier_in_thread(request, replies)


async def fetch_page(
    client: AsyncWebClient, request: ShortcutRequest, *, ts: str, cursor: str | None, limit: int
) -> dict[str, Any] | None:
    """One page of conversations.replies; CannotRead if the bot may not read the channel,
    None on any other failure (the thread is then left out, the question still goes)."""
    try:
        answer = await client.conversations_replies(
            channel=request.channel_id,
            ts=ts,
            latest=request.message_ts,
            inclusive=True,
            limit=limit,
            cursor=cursor,
        )
    except SlackApiError as exc:
        if describe(exc) in CANNOT_READ:
            raise CannotRead from exc
        log.info("thread of %s left out: %s", request.channel_id, describe(exc))
        return None
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.info("thread of %s left out: %s", request.channel_id, describe(exc))
        return None
    return dict(answer.data) if isinstance(answer.data, dict) else None


async def introduce(client: AsyncWebClient, request: ShortcutRequest, dm_channel: str) -> None:
    """The DM line before the answer, with the link back to the message."""
    text = messages.SHORTCUT_ABOUT.format(
        link=request.link, author=request.author or "someone", where=request.where
    )
    try:
        await client.chat_postMessage(channel=dm_channel, text=text)
    except SLACK_FAILURES as exc:
        log.info("shortcut intro in %s not posted: %s", dm_channel, describe(exc))


async def tell(respond: AsyncRespond, request: ShortcutRequest, text: str) -> None:
    """An ephemeral note to the shortcut's user, through its response_url (which works in
    channels the bot is not in, unlike chat.postEphemeral)."""
    if request.response_url is None:
        return
    try:
        await respond(text=text, response_type="ephemeral", replace_original=False)
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.info("shortcut note to %s not sent: %s", request.user_id, describe(exc))


def describe(exc: BaseException) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or "error")
    return type(exc).__name__
