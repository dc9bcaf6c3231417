"""Turns: open one over a key's pending messages, claim it, record its progress, finish it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, or_, text, update
from sqlalchemy import select as core_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import execute
from storage.models import (
    InboundMessage,
    Turn,
    TurnStatus,
    utcnow,
)
from storage.upsert import PerDialect, table_of

# The statements every turn runs, built once with bind parameters (see `storage.db.execute`).
# Bind names differ from column names: SQLAlchemy keeps those for the SET/VALUES clauses.
_turns, _messages = table_of(Turn), table_of(InboundMessage)
_PENDING = (
    core_select(_messages)
    .where(_messages.c.key == bindparam("p_key"), _messages.c.turn_id.is_(None))
    .order_by(_messages.c.id)
)
_OPEN = PerDialect(
    lambda insert: (
        insert(_turns)
        .on_conflict_do_nothing(
            index_elements=["conversation_id"], index_where=text("status <> 'done'")
        )
        .returning(*_turns.c)
    )
)
_TAKE = (
    update(_messages)
    .where(_messages.c.id.in_(bindparam("p_ids", expanding=True)), _messages.c.turn_id.is_(None))
    .values(turn_id=bindparam("p_turn_id"))
)
# A turn this process still holds (its lease was not taken over) and that is not done.
HELD = (
    (_turns.c.id == bindparam("p_turn_id"))
    & (_turns.c.owner == bindparam("p_owner"))
    & (_turns.c.status != TurnStatus.DONE)
)
_STARTED = (
    update(_turns)
    .where(HELD)
    .values(
        status=TurnStatus.RUNNING,
        run_id=bindparam("p_run_id"),
        started_at=bindparam("p_now"),
        next_poll_at=bindparam("p_next_poll_at"),
        lease_until=bindparam("p_lease_until"),
    )
)
_RENEW = (
    update(_turns)
    .where(HELD)
    .values(lease_until=bindparam("p_lease_until"), polls=bindparam("p_polls"))
)
# The lease keeper's beat: every turn of this process whose step is still running, at once.
_RENEW_MANY = (
    update(_turns)
    .where(
        _turns.c.id.in_(bindparam("p_ids", expanding=True)),
        _turns.c.owner == bindparam("p_owner"),
        _turns.c.status != TurnStatus.DONE,
    )
    .values(lease_until=bindparam("p_lease_until"))
    .returning(_turns.c.id)
)


def _lease_free(now: datetime, owner: str) -> Any:
    return or_(
        col(Turn.owner).is_(None),
        col(Turn.owner) == owner,
        col(Turn.lease_until).is_(None),
        col(Turn.lease_until) < now,
    )


async def pending_messages(*, session: AsyncSession, key: str) -> list[InboundMessage]:
    """The key's messages not yet given to a turn, oldest first."""
    rows = (await execute(session, _PENDING, {"p_key": key})).all()
    return [InboundMessage.model_validate(row._asdict()) for row in rows]


async def open_turn(
    *,
    session: AsyncSession,
    key: str,
    conversation_id: int,
    pending: list[InboundMessage],
    owner: str,
    lease: timedelta,
) -> tuple[Turn, list[InboundMessage]] | None:
    """Start a turn over `pending` (the key's `pending_messages`, not empty), unless one is
    already open.

    The partial unique index `uq_turn_open` makes "one open turn per conversation" hold
    across processes; the `turn_id IS NULL` guard makes each message belong to one turn.
    """
    newest = pending[-1]
    now = utcnow()
    values = {
        "key": key,
        "conversation_id": conversation_id,
        "status": TurnStatus.STARTING,
        "channel_id": newest.channel_id,
        "thread_ts": newest.reply_thread_ts,
        "owner": owner,
        "lease_until": now + lease,
        "next_poll_at": now,
        "polls": 0,
        "attempts": 0,
        "tool_rounds": 0,
        "created_at": now,
    }
    row = (await execute(session, _OPEN.for_(session), values)).one_or_none()
    if row is None:
        return None
    turn = Turn.model_validate(row._asdict())
    turn_id = turn.id
    taken = await execute(session, _TAKE, {"p_ids": [m.id for m in pending], "p_turn_id": turn_id})
    if not taken.rowcount:
        # Another conversation of this key (another assistant) took them meanwhile.
        await session.exec(
            update(Turn)
            .where(col(Turn.id) == turn_id)
            .values(status=TurnStatus.DONE, outcome="empty", finished_at=now)
        )
        return None
    return turn, pending


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
    result = await execute(
        session,
        _STARTED,
        {
            "p_turn_id": turn_id,
            "p_owner": owner,
            "p_run_id": run_id,
            "p_now": utcnow(),
            "p_next_poll_at": next_poll_at,
            "p_lease_until": next_poll_at + lease,
        },
    )
    return bool(result.rowcount)


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
    back_to_start = (
        update(_turns)
        .where(HELD)
        .values(
            status=TurnStatus.STARTING,
            tool_state=tool_state,
            tool_rounds=tool_rounds,
            attempts=0,
            next_poll_at=now,
            lease_until=now + lease,
        )
    )
    result = await execute(session, back_to_start, {"p_turn_id": turn_id, "p_owner": owner})
    return bool(result.rowcount)


async def set_status_ts(*, session: AsyncSession, turn_id: int, ts: str | None) -> None:
    await session.exec(update(Turn).where(col(Turn.id) == turn_id).values(status_ts=ts))


async def renew_turn(
    *, session: AsyncSession, turn_id: int, owner: str, lease_until: datetime, polls: int
) -> bool:
    """Extend this process's lease on the turn; False if the turn was lost to another."""
    result = await execute(
        session,
        _RENEW,
        {"p_turn_id": turn_id, "p_owner": owner, "p_lease_until": lease_until, "p_polls": polls},
    )
    return bool(result.rowcount)


async def renew_turns(
    *, session: AsyncSession, turn_ids: list[int], owner: str, lease_until: datetime
) -> set[int]:
    """Extend this process's lease on each of `turn_ids`; the ids it still held."""
    rows = await execute(
        session,
        _RENEW_MANY,
        {"p_ids": turn_ids, "p_owner": owner, "p_lease_until": lease_until},
    )
    return {int(row[0]) for row in rows.all()}


async def record_start_failure(
    *,
    session: AsyncSession,
    turn_id: int,
    owner: str,
    next_attempt_at: datetime,
    error: str,
    lease: timedelta,
) -> bool:
    """A create failed and will be tried again at `next_attempt_at`; False if this process
    no longer holds the turn."""
    result = await session.exec(
        update(Turn)
        .where(
            col(Turn.id) == turn_id,
            col(Turn.owner) == owner,
            col(Turn.status) != TurnStatus.DONE,
        )
        .values(
            attempts=col(Turn.attempts) + 1,
            next_poll_at=next_attempt_at,
            lease_until=next_attempt_at + lease,
            error=error,
        )
    )
    return bool(getattr(result, "rowcount", 0))
