"""Slack's Stop button: which unfinished turns a stop is for, and the durable stop request."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import InboundMessage, Turn, TurnStatus


@dataclass(frozen=True)
class StopCandidate:
    """An unfinished turn a stop may be for, and who asked (the users of its messages)."""

    turn_id: int
    askers: frozenset[str]


async def unfinished_turns_for_stop(
    *,
    session: AsyncSession,
    channel_id: str,
    stream_ts: Sequence[str],
    thread_ts: str | None,
) -> list[StopCandidate]:
    """The channel's unfinished turns streaming into one of `stream_ts`; when Slack named
    no stream (`agent_session_stopped` with an empty `streaming_message_ts`: nothing was
    streaming yet), those answering in the thread `thread_ts`."""
    where: ColumnElement[bool]
    if stream_ts:
        where = col(Turn.stream_ts).in_(list(stream_ts))
    elif thread_ts:
        where = or_(col(Turn.thread_ts) == thread_ts, col(Turn.stream_thread_ts) == thread_ts)
    else:
        return []
    turn_ids = [
        turn_id
        for turn_id in (
            await session.exec(
                select(Turn.id).where(
                    Turn.channel_id == channel_id, Turn.status != TurnStatus.DONE, where
                )
            )
        ).all()
        if turn_id is not None
    ]
    if not turn_ids:
        return []
    askers: dict[int, set[str]] = defaultdict(set)
    rows = await session.exec(
        select(InboundMessage.turn_id, InboundMessage.user_id).where(
            col(InboundMessage.turn_id).in_(turn_ids)
        )
    )
    for turn_id, user_id in rows.all():
        if turn_id is not None:
            askers[turn_id].add(user_id)
    return [StopCandidate(turn_id, frozenset(askers[turn_id])) for turn_id in sorted(turn_ids)]


async def request_stop(*, session: AsyncSession, turn_id: int) -> bool:
    """Mark an unfinished turn as stopped by its asker (`turn.stop_requested`), so whoever
    runs it cancels the run, also one created after the press. False if the turn is done
    (or gone): there is nothing to stop."""
    result = await session.exec(
        update(Turn)
        .where(col(Turn.id) == turn_id, col(Turn.status) != TurnStatus.DONE)
        .values(stop_requested=True)
    )
    return bool(getattr(result, "rowcount", 0))
