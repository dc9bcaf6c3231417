"""A turn's answer streamed into Slack: its stream message, and where a Stop finds its turn."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import execute
from storage.models import Turn, TurnStatus
from storage.upsert import table_of

_turns = table_of(Turn)
# Once per streamed turn, right after Slack answers chat.startStream: before any more of
# the answer is sent, so whoever delivers the reply ends this message and posts no other.
_RECORD_STREAM = (
    update(_turns)
    .where(_turns.c.id == bindparam("p_turn_id"))
    .values(stream_ts=bindparam("p_ts"), stream_thread_ts=bindparam("p_thread_ts"))
)


@dataclass(frozen=True)
class StreamedTurn:
    """What ending a turn's stream message needs, read back from its row."""

    turn_id: int
    channel_id: str
    stream_ts: str | None
    stream_thread_ts: str | None


async def record_stream(*, session: AsyncSession, turn_id: int, ts: str, thread_ts: str) -> None:
    """The turn's answer streams into Slack message `ts` (in thread `thread_ts`)."""
    await execute(
        session, _RECORD_STREAM, {"p_turn_id": turn_id, "p_ts": ts, "p_thread_ts": thread_ts}
    )


async def stream_of(*, session: AsyncSession, turn_id: int) -> StreamedTurn | None:
    """The turn's stream message, if its answer streamed (None: not found)."""
    turn = await session.get(Turn, turn_id)
    if turn is None:
        return None
    return StreamedTurn(turn_id, turn.channel_id, turn.stream_ts, turn.stream_thread_ts)


async def unfinished_run(*, session: AsyncSession, turn_id: int) -> Turn | None:
    """The turn, if it has not finished (a Stop can still cancel its run)."""
    stmt = select(Turn).where(col(Turn.id) == turn_id, col(Turn.status) != TurnStatus.DONE)
    return (await session.exec(stmt)).one_or_none()
