"""Message and mention listeners: filter, store the message (the queue), hand it over.

The message is stored before Bolt acks (process_before_response), so a message Slack
saw acknowledged is never lost; a listener error still acks 200, and the database, not
the HTTP status, guarantees the work gets done.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import messages
from bot.config import Settings
from bot.file_rules import refusal
from handlers.routing import (
    Incoming,
    bot_user_of,
    is_from_bot,
    is_user_message,
    mentions,
    missing,
    route_channel,
    route_direct,
)
from storage import inbox
from storage.db import Database

log = logging.getLogger(__name__)

Accepted = Callable[[Incoming], None]
Hint = Callable[[Incoming, str], None]


def register(
    app: AsyncApp,
    *,
    db: Database,
    settings: Settings,
    on_accepted: Accepted,
    on_hint: Hint,
    on_thread_started: Accepted | None = None,
) -> None:
    """Attach the listeners. `on_accepted` / `on_hint` / `on_thread_started` (a newly stored
    top-level DM message: an agent-view thread begins) must return at once (they schedule)."""

    max_bytes = int(settings.max_file_mb * 1024 * 1024)

    async def store(incoming: Incoming, event_id: str | None, *, hints: bool = True) -> None:
        """Store the message; `hints`: tell the sender about what is left out (off for the
        channel-message copy of a mention: its `app_mention` twin gives the hints)."""
        on_hint_here = on_hint if hints else _no_hint
        # Files are checked against the limits Slack's event already tells (type, size);
        # the ones that cannot go are named in a reply, the rest of the message still goes.
        verdicts = [(f, refusal(f, max_bytes=max_bytes)) for f in incoming.files]
        accepted = [f for f, reason in verdicts if reason is None]
        refused = [reason for _, reason in verdicts if reason is not None]
        if refused:
            on_hint_here(
                incoming,
                messages.FILES_REFUSED.format(
                    count=len(refused), files="\n".join(f"• {reason}" for reason in refused)
                ),
            )
        if not incoming.text and not accepted:
            if not refused:
                on_hint_here(incoming, messages.EMPTY_MESSAGE_HINT)
            return
        if len(incoming.text) > settings.max_message_chars:
            on_hint_here(
                incoming,
                messages.TOO_LONG.format(
                    length=len(incoming.text), limit=settings.max_message_chars
                ),
            )
            return
        message = incoming.inbox_row(
            event_id=event_id,
            files=json.dumps([f.to_json() for f in accepted]) if accepted else None,
        )

        async def write(session: AsyncSession) -> bool:
            if incoming.is_mention and incoming.reply_thread_ts:
                await inbox.remember_bot_thread(
                    session=session,
                    channel_id=incoming.channel_id,
                    thread_ts=incoming.reply_thread_ts,
                )
            return await inbox.enqueue_message(session=session, message=message)

        # Both writes are idempotent and each safe alone (a retry of the event repeats them).
        is_new = await db.store(write)
        if is_new:
            on_accepted(incoming)
            if incoming.starts_thread and on_thread_started is not None:
                on_thread_started(incoming)
        else:
            log.debug(
                "message %s/%s already stored (retry or duplicate)",
                incoming.channel_id,
                incoming.ts,
            )

    @app.event("app_mention")
    async def on_mention(body: dict[str, Any], event: dict[str, Any], context: Any) -> None:
        bot_user_id = bot_user_of(body, context)
        if is_from_bot(event, bot_user_id) or not is_user_message(event):
            return
        if event.get("channel_type") == "im" or is_incomplete(body, event):
            return
        incoming = route_channel(
            body, event, bot_user_id=bot_user_id, scope=settings.channel_scope, is_mention=True
        )
        await store(incoming, body.get("event_id"))

    @app.event("message")
    async def on_message(body: dict[str, Any], event: dict[str, Any], context: Any) -> None:
        bot_user_id = bot_user_of(body, context)
        if is_from_bot(event, bot_user_id) or not is_user_message(event):
            return
        if is_incomplete(body, event):
            return
        if event.get("channel_type") == "im":
            incoming = route_direct(body, event, bot_user_id, settings.dm_scope)
            await store(incoming, body.get("event_id"))
            return
        # A mention also arrives as `app_mention`; both map to one stored row.
        is_mention = mentions(str(event.get("text") or ""), bot_user_id)
        if not is_mention and not await in_bot_thread(event):
            return
        incoming = route_channel(
            body,
            event,
            bot_user_id=bot_user_id,
            scope=settings.channel_scope,
            is_mention=is_mention,
        )
        await store(incoming, body.get("event_id"), hints=not is_mention)

    async def in_bot_thread(event: dict[str, Any]) -> bool:
        thread_ts = event.get("thread_ts")
        if not thread_ts:
            return False
        async with db.ingest() as session:
            return await inbox.is_bot_thread(
                session=session, channel_id=str(event["channel"]), thread_ts=str(thread_ts)
            )

    @app.event(re.compile(".*"))
    async def on_other_event() -> None:
        # Unhandled events answer 200: a 404 would make Slack retry them.
        return


def is_incomplete(body: dict[str, Any], event: dict[str, Any]) -> bool:
    """A user's message without the fields Slack always sends with one is ignored (logged
    once; answering 200, so Slack does not send it again)."""
    lacking = missing(event, "channel", "ts")
    if lacking:
        log.warning(
            "ignored an event of type %s without %s (event_id %r)",
            event.get("type"),
            " or ".join(lacking),
            body.get("event_id"),
        )
    return bool(lacking)


def _no_hint(incoming: Incoming, text: str) -> None:
    return None
