"""Hand back claims: on shutdown (ours) or at start of a single-process SQLite setup (all)."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Reply, Turn, TurnStatus


async def release_owned(*, session: AsyncSession, owner: str) -> None:
    """Let any process take this process's unfinished turns and replies at once."""
    await session.exec(
        update(Turn)
        .where(col(Turn.owner) == owner, col(Turn.status) != TurnStatus.DONE)
        .values(owner=None, lease_until=None)
    )
    await session.exec(
        update(Reply).where(col(Reply.owner) == owner).values(owner=None, lease_until=None)
    )


async def release_all(*, session: AsyncSession) -> None:
    await session.exec(
        update(Turn)
        .where(col(Turn.owner).is_not(None), col(Turn.status) != TurnStatus.DONE)
        .values(owner=None, lease_until=None)
    )
    await session.exec(
        update(Reply).where(col(Reply.owner).is_not(None)).values(owner=None, lease_until=None)
    )
