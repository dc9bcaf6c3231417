"""The inbox: accepted Slack messages (the durable queue) and the bot threads they came in."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import execute
from storage.models import BotThread, InboundMessage, Turn, utcnow
from storage.upsert import PerDialect, insert_ignore, table_of

# Every message runs this: built once (see `storage.db.execute`).
_messages = table_of(InboundMessage)
# RETURNING tells whether the row went in: psycopg reports rowcount -1 for this insert.
_ENQUEUE = PerDialect(
    lambda insert: (
        insert(_messages)
        .on_conflict_do_nothing(index_elements=["channel_id", "message_ts"])
        .returning(_messages.c.id)
    )
)


async def enqueue_message(*, session: AsyncSession, message: InboundMessage) -> bool:
    """Store a message unless the same Slack message is already stored; True if it is new."""
    result = await execute(session, _ENQUEUE.for_(session), message.model_dump(exclude={"id"}))
    return result.first() is not None


async def remember_bot_thread(*, session: AsyncSession, channel_id: str, thread_ts: str) -> None:
    stmt = (
        insert_ignore(session, BotThread)
        .values(channel_id=channel_id, thread_ts=thread_ts, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["channel_id", "thread_ts"])
    )
    await session.exec(stmt)


async def is_bot_thread(*, session: AsyncSession, channel_id: str, thread_ts: str) -> bool:
    found = await session.get(BotThread, (channel_id, thread_ts))
    return found is not None


async def pending_keys(*, session: AsyncSession, limit: int = 200) -> list[str]:
    """Keys with messages not yet given to a turn and no turn open (which would take them)."""
    open_turn = select(Turn.id).where(Turn.key == InboundMessage.key, Turn.status != "done")
    stmt = (
        select(InboundMessage.key)
        .where(col(InboundMessage.turn_id).is_(None), ~open_turn.exists())
        .distinct()
        .limit(limit)
    )
    return list((await session.exec(stmt)).all())
