"""Turns: open one over a key's pending messages, claim it, record its progress, finish it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, or_, text, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Conversation, InboundMessage, Reply, Turn, TurnStatus, utcnow
from storage.upsert import insert_ignore


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


def _lease_free(now: datetime, owner: str) -> Any:
    return or_(
        col(Turn.owner).is_(None),
        col(Turn.owner) == owner,
        col(Turn.lease_until).is_(None),
        col(Turn.lease_until) < now,
    )


async def open_turn(
    *, session: AsyncSession, key: str, conversation_id: int, owner: str, lease: timedelta
) -> Turn | None:
    """Start a turn over the key's pending messages, unless one is already open.

    The partial unique index `uq_turn_open` makes "one open turn per conversation" hold
    across processes; the `turn_id IS NULL` guard makes each message belong to one turn.
    """
    pending = (
        await session.exec(
            select(InboundMessage)
            .where(InboundMessage.key == key, col(InboundMessage.turn_id).is_(None))
            .order_by(col(InboundMessage.id))
        )
    ).all()
    if not pending:
        return None
    newest = pending[-1]
    now = utcnow()
    stmt = (
        insert_ignore(session, _table(Turn))
        .values(
            key=key,
            conversation_id=conversation_id,
            status=TurnStatus.STARTING,
            channel_id=newest.channel_id,
            thread_ts=newest.reply_thread_ts,
            owner=owner,
            lease_until=now + lease,
            next_poll_at=now,
            polls=0,
            attempts=0,
            created_at=now,
        )
        .on_conflict_do_nothing(
            index_elements=["conversation_id"], index_where=text("status <> 'done'")
        )
        .returning(_table(Turn).c.id)
    )
    turn_id = (await session.exec(stmt)).scalar_one_or_none()
    if turn_id is None:
        return None
    taken = await session.exec(
        update(InboundMessage)
        .where(
            col(InboundMessage.id).in_([m.id for m in pending]),
            col(InboundMessage.turn_id).is_(None),
        )
        .values(turn_id=turn_id)
    )
    if not getattr(taken, "rowcount", 0):
        # Another conversation of this key (another assistant) took them meanwhile.
        await session.exec(
            update(Turn)
            .where(col(Turn.id) == turn_id)
            .values(status=TurnStatus.DONE, outcome="empty", finished_at=now)
        )
        return None
    return await session.get(Turn, turn_id)


async def claim_turn(
    *, session: AsyncSession, turn_id: int, owner: str, lease: timedelta
) -> Turn | None:
    """Take (or renew) this process's lease on an unfinished turn; None if another holds it."""
    now = utcnow()
    result = await session.exec(
        update(Turn)
        .where(
            col(Turn.id) == turn_id, col(Turn.status) != TurnStatus.DONE, _lease_free(now, owner)
        )
        .values(owner=owner, lease_until=now + lease)
    )
    if not getattr(result, "rowcount", 0):
        return None
    turn = await session.get(Turn, turn_id)
    if turn is not None:
        await session.refresh(turn)
    return turn


async def orphaned_turns(*, session: AsyncSession, limit: int = 100) -> list[int]:
    """Unfinished turns whose owner's lease ran out (the process died or was stopped)."""
    now = utcnow()
    stmt = (
        select(Turn.id)
        .where(
            Turn.status != TurnStatus.DONE,
            or_(col(Turn.lease_until).is_(None), col(Turn.lease_until) < now),
        )
        .order_by(col(Turn.id))
        .limit(limit)
    )
    return [turn_id for turn_id in (await session.exec(stmt)).all() if turn_id is not None]


async def turn_messages(*, session: AsyncSession, turn_id: int) -> list[InboundMessage]:
    stmt = (
        select(InboundMessage)
        .where(InboundMessage.turn_id == turn_id)
        .order_by(col(InboundMessage.id))
    )
    return list((await session.exec(stmt)).all())


async def mark_start_requested(*, session: AsyncSession, turn_id: int) -> None:
    """Recorded before the create call: after a crash, the run is looked for, not re-created."""
    await session.exec(
        update(Turn).where(col(Turn.id) == turn_id).values(start_requested_at=utcnow())
    )


async def record_started(
    *, session: AsyncSession, turn_id: int, run_id: str, next_poll_at: datetime
) -> None:
    """The run exists at OpenAI: from now on it is polled, never created again."""
    await session.exec(
        update(Turn)
        .where(col(Turn.id) == turn_id)
        .values(
            status=TurnStatus.RUNNING,
            run_id=run_id,
            start_requested_at=None,
            started_at=utcnow(),
            next_poll_at=next_poll_at,
        )
    )


async def record_poll(
    *,
    session: AsyncSession,
    turn_id: int,
    next_poll_at: datetime,
    lease: timedelta,
    failed_attempt: bool = False,
) -> None:
    values: dict[str, Any] = {
        "polls": col(Turn.polls) + 1,
        "next_poll_at": next_poll_at,
        "lease_until": utcnow() + lease,
    }
    if failed_attempt:
        values["attempts"] = col(Turn.attempts) + 1
    await session.exec(update(Turn).where(col(Turn.id) == turn_id).values(**values))


async def record_start_failure(
    *,
    session: AsyncSession,
    turn_id: int,
    next_attempt_at: datetime,
    error: str,
    maybe_started: bool,
    lease: timedelta,
) -> None:
    values: dict[str, Any] = {
        "attempts": col(Turn.attempts) + 1,
        "next_poll_at": next_attempt_at,
        "lease_until": next_attempt_at + lease,
        "error": error,
    }
    if not maybe_started:
        values["start_requested_at"] = None
    await session.exec(update(Turn).where(col(Turn.id) == turn_id).values(**values))


async def finish_turn(
    *,
    session: AsyncSession,
    turn_id: int,
    outcome: str,
    parts: list[str],
    error: str | None = None,
    watermark: str | None = None,
) -> None:
    """Mark the turn done and put its reply parts in the outbox, in one transaction."""
    now = utcnow()
    turn = await session.get(Turn, turn_id)
    if turn is None or turn.status == TurnStatus.DONE:
        return
    if watermark is not None:
        await session.exec(
            update(Conversation)
            .where(col(Conversation.id) == turn.conversation_id)
            .values(watermark=watermark)
        )
    turn.status = TurnStatus.DONE
    turn.outcome = outcome
    turn.finished_at = now
    turn.error = error
    turn.owner = None
    turn.lease_until = None
    session.add(turn)
    for seq, markdown in enumerate(parts):
        session.add(
            Reply(
                turn_id=turn_id,
                seq=seq,
                channel_id=turn.channel_id,
                thread_ts=turn.thread_ts,
                markdown=markdown,
                next_attempt_at=now,
                created_at=now,
            )
        )
