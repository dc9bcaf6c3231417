"""The calls the bridge makes to show a turn in Slack: replies, hints, the "working"
reaction, the status line, uploads, and the look for a post that may already be there."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages
from bot.slack.client import error_code
from bot.slack.render import fallback_text, markdown_blocks

log = logging.getLogger(__name__)

WORKING_REACTION = "hourglass_flowing_sand"
# A part's `sending_at` is our clock, a message's ts Slack's: a look for an earlier post
# starts this much before it. NTP keeps servers well within a second of each other; a
# wider window would take an earlier turn's file of the same name for this one's.
CLOCK_SKEW_SECONDS = 5.0
# conversations.history / .replies: Slack recommends no more than 200 messages a page.
PAGE_SIZE = 200
REPLY_EVENT_TYPE = "assistant_bridge_reply"
# Slack could not be reached (or did not answer in time): the SDK's own retries are spent.
UNREACHABLE = (aiohttp.ClientError, TimeoutError)


class SlackPoster:
    """Posts replies and hints, and sets the "working" reaction."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def post_reply(
        self,
        *,
        channel: str,
        thread_ts: str | None,
        markdown: str,
        reply_id: int,
        extra_blocks: list[dict[str, Any]] | None = None,
    ) -> str:
        """Post one reply part; the metadata names the part, so a post can be recognised later.
        `extra_blocks` follow the text (the feedback buttons of an answer's last part)."""
        response = await self.client.chat_postMessage(
            channel=channel,
            thread_ts=thread_ts,
            text=fallback_text(markdown),
            blocks=markdown_blocks(markdown) + list(extra_blocks or ()),
            metadata={"event_type": REPLY_EVENT_TYPE, "event_payload": {"reply_id": reply_id}},
            unfurl_links=False,
            unfurl_media=False,
        )
        return str(response["ts"])

    async def find_reply(
        self, *, channel: str, thread_ts: str | None, reply_id: int, since: float
    ) -> str | None:
        """The ts of reply part `reply_id` if Slack already has it (found by its metadata)."""

        def is_part(message: dict[str, Any]) -> str | None:
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if (
                metadata.get("event_type") == REPLY_EVENT_TYPE
                and payload.get("reply_id") == reply_id
            ):
                return str(message["ts"])
            return None

        return await self._find(channel, thread_ts, since, is_part)

    async def post_hint(self, *, channel: str, user: str, thread_ts: str | None, text: str) -> None:
        try:
            await self.client.chat_postEphemeral(
                channel=channel, user=user, thread_ts=thread_ts, text=text
            )
        except SlackApiError as exc:
            log.warning("could not post a hint in %s: %s", channel, error_code(exc))
        except UNREACHABLE as exc:
            log.warning("could not post a hint in %s: %s", channel, type(exc).__name__)

    async def set_thinking(self, *, channel: str, thread_ts: str) -> bool:
        """Show "is thinking…" with a few loading messages in the thread the answer goes
        to, until the app's answer arrives there (Slack clears it then, or after about two
        minutes); False if Slack refused it (the caller shows the reaction instead)."""
        try:
            await self.client.assistant_threads_setStatus(
                channel_id=channel,
                thread_ts=thread_ts,
                status=messages.THINKING,
                loading_messages=list(messages.LOADING_MESSAGES),
            )
        except SlackApiError as exc:
            log.info("status in %s refused: %s; using the reaction", channel, error_code(exc))
            return False
        except UNREACHABLE as exc:
            log.info("status in %s failed: %s", channel, type(exc).__name__)
            return False
        return True

    async def set_working(self, *, channel: str, ts: str, working: bool) -> None:
        """Add or remove the "working" reaction: cosmetic, so failures are only logged."""
        call = self.client.reactions_add if working else self.client.reactions_remove
        try:
            await call(channel=channel, timestamp=ts, name=WORKING_REACTION)
        except SlackApiError as exc:
            code = error_code(exc)
            if code not in ("already_reacted", "no_reaction", "message_not_found"):
                log.info("reaction %s on %s failed: %s", "add" if working else "remove", ts, code)
        except UNREACHABLE as exc:
            log.info("reaction on %s failed: Slack unreachable (%s)", ts, type(exc).__name__)

    async def show_status(
        self, *, channel: str, thread_ts: str | None, ts: str | None, text: str
    ) -> str | None:
        """Post the turn's status line, or update it if `ts` is given; its ts, or None."""
        try:
            if ts:
                await self.client.chat_update(channel=channel, ts=ts, text=text)
                return ts
            response = await self.client.chat_postMessage(
                channel=channel, thread_ts=thread_ts, text=text
            )
            return str(response["ts"])
        except SlackApiError as exc:
            log.info("status message in %s failed: %s", channel, error_code(exc))
            return ts
        except UNREACHABLE as exc:
            log.info("status message in %s failed: %s", channel, type(exc).__name__)
            return ts

    async def delete_status(self, *, channel: str, ts: str) -> None:
        try:
            await self.client.chat_delete(channel=channel, ts=ts)
        except SlackApiError as exc:
            if error_code(exc) != "message_not_found":
                log.info("removing the status message in %s failed: %s", channel, error_code(exc))
        except UNREACHABLE as exc:
            log.info("removing the status message in %s failed: %s", channel, type(exc).__name__)

    async def upload_file(
        self, *, channel: str, thread_ts: str | None, filename: str, content: bytes
    ) -> str:
        """Upload a file the assistant made into the conversation (files_upload_v2)."""
        response = await self.client.files_upload_v2(
            channel=channel,
            thread_ts=thread_ts,
            filename=filename,
            title=filename,
            content=content,
        )
        files = response.get("files") or [response.get("file") or {}]
        return str(files[0].get("id") or "")

    async def find_upload(
        self, *, channel: str, thread_ts: str | None, filename: str, size: int | None, since: float
    ) -> str | None:
        """The id of the file named `filename` (of `size` bytes, when known) that the bridge
        uploaded here since `since`.

        An upload's message carries no metadata (files.completeUploadExternal takes none),
        so a file is told from an earlier turn's file of the same name by when it was shared
        (this part's own `since`) and by its size (the bytes are downloaded first).
        """

        def is_upload(message: dict[str, Any]) -> str | None:
            if not message.get("bot_id"):
                return None
            for file in message.get("files") or []:
                if file.get("name") == filename and size in (None, file.get("size")):
                    return str(file.get("id"))
            return None

        return await self._find(channel, thread_ts, since, is_upload)

    async def _find(
        self,
        channel: str,
        thread_ts: str | None,
        since: float,
        match: Callable[[dict[str, Any]], str | None],
    ) -> str | None:
        """The first `match` among the thread's (or channel's) messages from `since` on (less
        the clock skew), reading page after page until found or none are left: a busy
        thread or a long outage puts far more than one page after `since`."""
        oldest = since - CLOCK_SKEW_SECONDS
        cursor: str | None = None
        while True:
            if thread_ts:
                response = await self.client.conversations_replies(
                    channel=channel,
                    ts=thread_ts,
                    oldest=f"{oldest:.6f}",
                    include_all_metadata=True,
                    limit=PAGE_SIZE,
                    cursor=cursor,
                )
            else:
                response = await self.client.conversations_history(
                    channel=channel,
                    oldest=f"{oldest:.6f}",
                    include_all_metadata=True,
                    limit=PAGE_SIZE,
                    cursor=cursor,
                )
            for message in response.get("messages") or []:
                # conversations.replies always starts with the thread's parent, however old.
                if float(message.get("ts") or 0) >= oldest and (found := match(message)):
                    return found
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None:
                return None
