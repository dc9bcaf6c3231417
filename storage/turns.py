"""Turns: open one over a key's pending messages, claim it, record its progress, finish it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, text, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Conversation, InboundMessage, Reply, Turn, TurnStatus, utcnow
from storage.upsert import insert_ignore, table_of


def _lease_free(now: datetime, owner: str) -> Any:
    return or_(
        col(Turn.owner).is_(None),
        col(Turn.owner) == owner,
        col(Turn.lease_until).is_(None),
        col(Turn.lease_until) < now,
    )


async def open_turn(
    *, session: AsyncSession, key: str, conversation_id: int, owner: str, lease: timedelta
) -> tuple[Turn, list[InboundMessage]] | None:
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
        insert_ignore(session, Turn)
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
        .returning(*table_of(Turn).c)
    )
    row = (await session.exec(stmt)).one_or_none()
    if row is None:
        return None
    turn = Turn.model_validate(row._asdict())
    turn_id = turn.id
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
    return turn, list(pending)


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


def _held_by(turn_id: int, owner: str) -> Any:
    return (col(Turn.id) == turn_id) & (col(Turn.owner) == owner) & (Turn.status != "done")


async def record_started(
    *,
    session: AsyncSession,
    turn_id: int,
    owner: str,
    run_id: str,
    next_poll_at: datetime,
    lease: timedelta,
) -> bool:
    """The run exists at OpenAI: from now on it is polled, never created again.

    False if this process no longer holds the turn (its lease ran out and another took it).
    """
    result = await session.exec(
        update(Turn)
        .where(_held_by(turn_id, owner))
        .values(
            status=TurnStatus.RUNNING,
            run_id=run_id,
            started_at=utcnow(),
            next_poll_at=next_poll_at,
            lease_until=next_poll_at + lease,
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def record_tool_outputs(
    *,
    session: AsyncSession,
    turn_id: int,
    owner: str,
    tool_state: str,
    tool_rounds: int,
    lease: timedelta,
) -> bool:
    """The round's outputs are computed: the turn goes back to "starting" until they are
    sent (sending them is a create that may need recovering, like the first one)."""
    now = utcnow()
    result = await session.exec(
        update(Turn)
        .where(_held_by(turn_id, owner))
        .values(
            status=TurnStatus.STARTING,
            tool_state=tool_state,
            tool_rounds=tool_rounds,
            attempts=0,
            next_poll_at=now,
            lease_until=now + lease,
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def set_status_ts(*, session: AsyncSession, turn_id: int, ts: str | None) -> None:
    await session.exec(update(Turn).where(col(Turn.id) == turn_id).values(status_ts=ts))


async def renew_turn(
    *, session: AsyncSession, turn_id: int, owner: str, lease_until: datetime, polls: int
) -> bool:
    """Extend this process's lease on the turn; False if the turn was lost to another."""
    result = await session.exec(
        update(Turn).where(_held_by(turn_id, owner)).values(lease_until=lease_until, polls=polls)
    )
    return bool(getattr(result, "rowcount", 0))


async def record_start_failure(
    *,
    session: AsyncSession,
    turn_id: int,
    next_attempt_at: datetime,
    error: str,
    lease: timedelta,
) -> None:
    await session.exec(
        update(Turn)
        .where(col(Turn.id) == turn_id)
        .values(
            attempts=col(Turn.attempts) + 1,
            next_poll_at=next_attempt_at,
            lease_until=next_attempt_at + lease,
            error=error,
        )
    )


async def finish_turn(
    *,
    session: AsyncSession,
    turn: Turn,
    owner: str,
    outcome: str,
    parts: list[str],
    lease: timedelta,
    polls: int,
    error: str | None = None,
    watermark: str | None = None,
    files: list[str] | None = None,
) -> list[Reply]:
    """Mark the turn done and put its reply parts in the outbox, in one transaction.

    `files` (JSON references of files the assistant made) become parts after the text.

    The parts come back leased to `owner`, marked as being sent. Empty if this process no
    longer held the turn: then whoever does will finish it.
    """
    assert turn.id is not None
    now = utcnow()
    done = await session.exec(
        update(Turn)
        .where(_held_by(turn.id, owner))
        .values(
            status=TurnStatus.DONE,
            outcome=outcome,
            polls=polls,
            finished_at=now,
            error=error,
            owner=None,
            lease_until=None,
            tool_state=None,
        )
    )
    if not getattr(done, "rowcount", 0):
        return []
    if watermark is not None:
        await session.exec(
            update(Conversation)
            .where(col(Conversation.id) == turn.conversation_id)
            .values(watermark=watermark)
        )
    replies = [
        Reply(
            turn_id=turn.id,
            seq=seq,
            channel_id=turn.channel_id,
            thread_ts=turn.thread_ts,
            markdown=markdown,
            file_ref=file_ref,
            owner=owner,
            lease_until=now + lease,
            sending_at=now,
            next_attempt_at=now,
            created_at=now,
        )
        for seq, (markdown, file_ref) in enumerate(
            [(part, None) for part in parts] + [("", ref) for ref in files or []]
        )
    ]
    session.add_all(replies)
    await session.flush()
    return replies
