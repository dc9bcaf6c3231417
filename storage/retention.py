"""Forget what is no longer needed: answered messages, finished turns and their posted replies."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import InboundMessage, Reply, ReplyStatus, Turn, TurnStatus


async def prune(*, session: AsyncSession, before: datetime) -> int:
    """Delete answered messages and finished turns (with their replies) older than `before`.

    Conversations and bot threads stay: they are what makes the assistant remember.
    Returns how many messages were deleted.
    """
    old_turns = select(Turn.id).where(
        Turn.status == TurnStatus.DONE, col(Turn.finished_at) < before
    )
    messages = await session.exec(
        delete(InboundMessage).where(
            col(InboundMessage.received_at) < before, col(InboundMessage.turn_id).in_(old_turns)
        )
    )
    await session.exec(
        delete(Reply).where(
            col(Reply.turn_id).in_(old_turns), col(Reply.status) != ReplyStatus.PENDING
        )
    )
    unreferenced = (
        select(Turn.id)
        .where(Turn.status == TurnStatus.DONE, col(Turn.finished_at) < before)
        .where(~select(Reply.id).where(Reply.turn_id == Turn.id).exists())
        .where(~select(InboundMessage.id).where(InboundMessage.turn_id == Turn.id).exists())
    )
    await session.exec(delete(Turn).where(col(Turn.id).in_(unreferenced)))
    return int(getattr(messages, "rowcount", 0) or 0)
