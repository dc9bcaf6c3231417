"""The outbox: claim a turn's reply parts, and record each part as posted or failed."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import execute
from storage.models import Reply, ReplyStatus, utcnow
from storage.upsert import table_of

_replies = table_of(Reply)
# Every reply part runs this: built once (see `storage.db.execute`).
_POSTED = (
    update(_replies)
    .where(_replies.c.id == bindparam("p_id"))
    .values(status=ReplyStatus.POSTED, posted_ts=bindparam("p_ts"), owner=None, lease_until=None)
)

# The lease keeper's beat: the unposted parts of every turn this process is delivering.
_RENEW_MANY = (
    update(_replies)
    .where(
        _replies.c.turn_id.in_(bindparam("p_turn_ids", expanding=True)),
        _replies.c.owner == bindparam("p_owner"),
        _replies.c.status == ReplyStatus.PENDING,
    )
    .values(lease_until=bindparam("p_lease_until"))
    .returning(_replies.c.turn_id)
)


async def renew_replies(
    *, session: AsyncSession, turn_ids: list[int], owner: str, lease_until: datetime
) -> set[int]:
    """Extend this process's lease on the unposted parts of `turn_ids`; the turns of which
    it still held parts."""
    rows = await execute(
        session,
        _RENEW_MANY,
        {"p_turn_ids": turn_ids, "p_owner": owner, "p_lease_until": lease_until},
    )
    return {int(row[0]) for row in rows.all()}


async def claim_replies(
    *, session: AsyncSession, turn_id: int, owner: str, lease: timedelta
) -> list[Reply]:
    """Lease the turn's unposted parts to this process, in order; empty if another holds them."""
    now = utcnow()
    # Plain FOR UPDATE, not SKIP LOCKED: a process claiming the same turn holds its rows for
    # a moment, and skipping some of them would post later parts before earlier ones. Under
    # the lock (or in SQLite's one writer) the lease check below is the whole decision.
    pending = (
        await session.exec(
            select(Reply)
            .where(Reply.turn_id == turn_id, Reply.status == ReplyStatus.PENDING)
            .order_by(col(Reply.seq))
            .with_for_update()
        )
    ).all()
    if not pending or any(not _is_free(r, owner, now) for r in pending):
        return []
    for reply in pending:
        reply.owner, reply.lease_until = owner, now + lease
        session.add(reply)
    return list(pending)


def _is_free(reply: Reply, owner: str, now: datetime) -> bool:
    return (
        reply.owner is None
        or reply.owner == owner
        or reply.lease_until is None
        or reply.lease_until < now
    )


async def due_reply_turns(*, session: AsyncSession, limit: int = 100) -> list[int]:
    """Turns with reply parts that are due and not leased by a live process."""
    now = utcnow()
    stmt = (
        select(Reply.turn_id)
        .where(
            Reply.status == ReplyStatus.PENDING,
            Reply.next_attempt_at <= now,
            or_(col(Reply.lease_until).is_(None), col(Reply.lease_until) < now),
        )
        .distinct()
        .limit(limit)
    )
    return list((await session.exec(stmt)).all())


async def mark_posted(*, session: AsyncSession, reply_id: int, ts: str) -> None:
    await execute(session, _POSTED, {"p_id": reply_id, "p_ts": ts})


async def mark_failed(*, session: AsyncSession, reply_id: int, error: str) -> None:
    """Give up on this part (and the rest of its turn): Slack said it can never be posted."""
    reply = await session.get(Reply, reply_id)
    if reply is None:
        return
    await session.exec(
        update(Reply)
        .where(col(Reply.turn_id) == reply.turn_id, col(Reply.status) == ReplyStatus.PENDING)
        .values(status=ReplyStatus.FAILED, error=error, owner=None, lease_until=None)
    )


async def postpone(*, session: AsyncSession, reply_id: int, until: datetime, error: str) -> None:
    """Try this part again later; release the lease so any process may."""
    await session.exec(
        update(Reply)
        .where(col(Reply.id) == reply_id)
        .values(
            attempts=col(Reply.attempts) + 1,
            next_attempt_at=until,
            error=error,
            owner=None,
            lease_until=None,
        )
    )
