"""The Slack thread around a mention: its earlier messages, as one context item for the turn.

Mentioned inside a thread the bridge was not part of, the assistant first gets what was
said there before (conversations.replies), each message labelled with its author, files
named (never downloaded), the bot's own messages marked as the assistant's, the newest kept
within `max_chars`. A thread the bridge already stored a message in is a bot thread: the
assistant has everything from that message on, so nothing is sent again.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.keys import is_dm
from bot.slack.client import error_code
from bot.slack.identity import Bot
from bot.slack.people import People
from storage.db import Database
from storage.models import InboundMessage
from storage.threads import first_stored_in_thread

log = logging.getLogger(__name__)

# conversations.replies pages oldest first, up to 1,000 a page (Tier 3 for internal apps):
# a thread is read in at most this many calls, and the newest of what was read is kept.
PAGE_LIMIT = 1000
MAX_PAGES = 5
HEADER = "Earlier messages in this Slack thread, before you were asked (oldest first):"
ASSISTANT_LABEL = "you (the assistant)"


def ts_key(ts: str) -> tuple[int, int]:
    seconds, _, fraction = ts.partition(".")
    return int(seconds or 0), int(fraction or 0)


def files_note(message: dict[str, Any]) -> str:
    names = [
        str(f.get("name") or f.get("title") or "a file")
        for f in message.get("files") or []
        if isinstance(f, dict)
    ]
    return f" (files: {', '.join(names)})" if names else ""


class ThreadContext:
    """Reads a thread's earlier messages for the first turn that joins it."""

    def __init__(
        self,
        *,
        db: Database,
        slack: AsyncWebClient,
        people: People,
        max_chars: int,
        bot: Callable[[], Bot | None] = lambda: None,
    ) -> None:
        self.db = db
        self.slack = slack
        self.people = people
        self.max_chars = max_chars
        self.bot = bot

    async def for_message(self, message: InboundMessage) -> str | None:
        """The context text for `message`, or None (not mid-thread, a bot thread already,
        nothing earlier, THREAD_CONTEXT_CHARS=0, or Slack could not be read)."""
        thread_ts = message.reply_thread_ts
        if self.max_chars <= 0 or thread_ts in (None, message.message_ts):
            return None
        if is_dm(message.key):
            return None  # a DM thread: the DM's own conversation has it
        async with self.db.session(single=True) as session:
            first = await first_stored_in_thread(
                session=session, channel_id=message.channel_id, thread_ts=str(thread_ts)
            )
        if first != message.message_ts:
            return None
        earlier = await self._read(message.channel_id, str(thread_ts), message.message_ts)
        return await self._render(earlier) if earlier else None

    async def _read(self, channel: str, thread_ts: str, before: str) -> list[dict[str, Any]]:
        # Kept newest: at most as many messages as could fit (each line is a few characters).
        kept: deque[dict[str, Any]] = deque(maxlen=max(1, self.max_chars // 2))
        cursor = None
        for _ in range(MAX_PAGES):
            try:
                page = await self.slack.conversations_replies(
                    channel=channel, ts=thread_ts, latest=before, limit=PAGE_LIMIT, cursor=cursor
                )
            except SlackApiError as exc:
                log.warning("thread %s/%s not read: %s", channel, thread_ts, error_code(exc))
                return list(kept)
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.warning("thread %s/%s not read: %s", channel, thread_ts, type(exc).__name__)
                return list(kept)
            for item in page.get("messages") or []:
                if isinstance(item, dict) and ts_key(str(item.get("ts"))) < ts_key(before):
                    kept.append(item)
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not page.get("has_more") or not cursor:
                return list(kept)
        log.info(
            "thread %s/%s: longer than %s pages; the rest left out", channel, thread_ts, MAX_PAGES
        )
        return list(kept)

    def _is_ours(self, message: dict[str, Any]) -> bool:
        bot = self.bot()
        if bot is None:
            return False
        return bool(
            (bot.user_id and message.get("user") == bot.user_id)
            or (bot.bot_id and message.get("bot_id") == bot.bot_id)
        )

    async def _render(self, earlier: list[dict[str, Any]]) -> str | None:
        authors = {str(m["user"]) for m in earlier if m.get("user") and not self._is_ours(m)}
        names = await self.people.names(authors)
        lines: list[str] = []
        used = len(HEADER)
        for message in reversed(earlier):  # newest first, until the budget is spent
            if self._is_ours(message):
                label = ASSISTANT_LABEL
            elif message.get("user"):
                label = names.get(str(message["user"]), str(message["user"]))
            else:
                label = str((message.get("bot_profile") or {}).get("name") or "a bot")
            line = f"[{label}] {message.get('text') or ''}".rstrip() + files_note(message)
            if used + len(line) + 1 > self.max_chars:
                if not lines:  # the newest alone is too long: its beginning
                    lines.append(line[: max(0, self.max_chars - used - 1)])
                break
            lines.append(line)
            used += len(line) + 1
        if not lines:
            return None
        return "\n".join([HEADER, *reversed(lines)])
