"""What the bridge already has of a Slack thread: the first message it stored there."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import InboundMessage


async def first_stored_in_thread(
    *, session: AsyncSession, channel_id: str, thread_ts: str
) -> str | None:
    """The ts of the first message stored in the Slack thread (None: none stored).

    Once the bridge stores a message in a thread, that thread is a bot thread: every later
    message there is stored too, so only what came before the first one is unknown to it.
    """
    stmt = (
        select(InboundMessage.message_ts)
        .where(InboundMessage.channel_id == channel_id, InboundMessage.reply_thread_ts == thread_ts)
        .order_by(col(InboundMessage.id))
        .limit(1)
    )
    return (await session.exec(stmt)).first()
