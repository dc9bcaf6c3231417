"""Ending a stream message as a reply part: stopped if still live, then made to read
exactly as the posted part would (its markdown block, fallback text and metadata).

chat.stopStream on a message no longer streaming answers message_not_in_streaming_state
(stopped_by_user after the Stop button); chat.update of a message still streaming
answers streaming_state_conflict (method reference, errors tables). Both steps may be
repeated: the message ends the same.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.client import error_code
from bot.slack.poster import REPLY_EVENT_TYPE
from bot.slack.render import fallback_text, markdown_blocks

# Slack's answers for a message that takes no more stream content.
ENDED = frozenset({"message_not_in_streaming_state", "stopped_by_user"})


def reply_metadata(reply_id: int) -> dict[str, Any]:
    """The metadata that names a reply part (as poster.post_reply sends it)."""
    return {"event_type": REPLY_EVENT_TYPE, "event_payload": {"reply_id": reply_id}}


async def end_stream(
    client: AsyncWebClient,
    *,
    channel: str,
    ts: str,
    markdown: str,
    reply_id: int,
    extra_blocks: list[dict[str, Any]],
) -> str:
    """End a stream message this process holds no live answer for (takeover, restart):
    stop it if still live, then make it read as the part `markdown` with `extra_blocks`
    after it. Its ts. Doing it twice gives the same message."""
    await stop_if_live(client, channel=channel, ts=ts)
    await update_to_part(
        client,
        channel=channel,
        ts=ts,
        markdown=markdown,
        reply_id=reply_id,
        extra_blocks=extra_blocks,
    )
    return ts


async def stop_if_live(client: AsyncWebClient, *, channel: str, ts: str) -> None:
    try:
        await client.chat_stopStream(channel=channel, ts=ts)
    except SlackApiError as exc:
        if error_code(exc) not in ENDED:
            raise


async def update_to_part(
    client: AsyncWebClient,
    *,
    channel: str,
    ts: str,
    markdown: str,
    reply_id: int,
    extra_blocks: list[dict[str, Any]],
) -> None:
    await client.chat_update(
        channel=channel,
        ts=ts,
        text=fallback_text(markdown),
        blocks=markdown_blocks(markdown) + list(extra_blocks),
        metadata=reply_metadata(reply_id),
    )
