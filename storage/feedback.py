"""Feedback on answers: one vote per person and answer, counted per assistant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import case, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Feedback, utcnow
from storage.upsert import insert_ignore


class VoteChange(StrEnum):
    """What a press did to the person's vote on that answer."""

    NEW = "new"
    CHANGED = "changed"  # the other button: the vote is now this one
    SAME = "same"  # the same button again: nothing changes


@dataclass(frozen=True)
class AssistantVotes:
    """How an assistant's answers were rated."""

    assistant: str
    up: int
    down: int


async def record_vote(*, session: AsyncSession, vote: Feedback) -> VoteChange:
    """Store `vote` as its person's vote on its answer (team, channel, message ts, user).

    The same vote again writes nothing; the other one replaces it (with its time). Two
    presses at once by one person on one answer are one row (the unique constraint).
    """
    current = (
        await session.exec(
            select(Feedback.vote).where(
                Feedback.team_id == vote.team_id,
                Feedback.channel_id == vote.channel_id,
                Feedback.message_ts == vote.message_ts,
                Feedback.user_id == vote.user_id,
            )
        )
    ).first()
    if current == vote.vote:
        return VoteChange.SAME
    values = {
        "team_id": vote.team_id,
        "channel_id": vote.channel_id,
        "message_ts": vote.message_ts,
        "thread_ts": vote.thread_ts,
        "user_id": vote.user_id,
        "vote": vote.vote,
        "turn_id": vote.turn_id,
        "assistant": vote.assistant,
        "voted_at": utcnow(),
    }
    stmt = insert_ignore(session, Feedback).values(**values)
    await session.exec(
        stmt.on_conflict_do_update(
            index_elements=["team_id", "channel_id", "message_ts", "user_id"],
            set_={"vote": vote.vote, "voted_at": values["voted_at"]},
        )
    )
    return VoteChange.NEW if current is None else VoteChange.CHANGED


async def votes_per_assistant(
    *, session: AsyncSession, since: datetime | None = None
) -> list[AssistantVotes]:
    """Up and down votes of each assistant with any, by name."""
    up = func.sum(case((col(Feedback.vote) == "up", 1), else_=0))
    down = func.sum(case((col(Feedback.vote) == "down", 1), else_=0))
    query = select(Feedback.assistant, up, down).group_by(Feedback.assistant)
    if since is not None:
        query = query.where(col(Feedback.voted_at) >= since)
    rows = (await session.exec(query.order_by(Feedback.assistant))).all()
    return [AssistantVotes(name, int(ups or 0), int(downs or 0)) for name, ups, downs in rows]


async def latest_votes(
    *, session: AsyncSession, limit: int, since: datetime | None = None
) -> list[Feedback]:
    """The `limit` most recent votes (by when they were last cast), newest first."""
    query = select(Feedback)
    if since is not None:
        query = query.where(col(Feedback.voted_at) >= since)
    order = (col(Feedback.voted_at).desc(), col(Feedback.id).desc())
    return list((await session.exec(query.order_by(*order).limit(limit))).all())
