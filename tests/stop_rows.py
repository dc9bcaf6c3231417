"""Rows the Stop tests start from: turns over users' messages, some streaming, some done."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text, update
from sqlalchemy.engine import Engine
from sqlmodel import col

from storage import inbox
from storage.db import Database
from storage.models import InboundMessage, Turn, TurnStatus
from tests.turn_rows import open_turn_over_pending


async def turn_over(
    db: Database,
    *,
    key: str,
    channel: str,
    asked: list[tuple[str, str]],
    thread_ts: str | None = None,
    stream_ts: str | None = None,
    done: bool = False,
) -> int:
    """A turn over messages (user, ts) in `channel`; streaming into `stream_ts` if given."""
    async with db.session() as session:
        for user, ts in asked:
            message = InboundMessage(
                key=key,
                team_id="T0TEST",
                channel_id=channel,
                user_id=user,
                message_ts=ts,
                reply_thread_ts=thread_ts,
                text="go on",
            )
            await inbox.enqueue_message(session=session, message=message)
        turn = await open_turn_over_pending(
            session, key=key, owner="test", lease=timedelta(seconds=30)
        )
        assert turn.id is not None
        await session.exec(
            update(Turn)
            .where(col(Turn.id) == turn.id)
            .values(
                status=TurnStatus.DONE if done else TurnStatus.RUNNING,
                stream_ts=stream_ts,
                stream_thread_ts=thread_ts if stream_ts else None,
            )
        )
        return turn.id


def stop_requested(db: Engine) -> dict[int, bool]:
    with db.connect() as connection:
        rows = connection.execute(text("SELECT id, stop_requested FROM turn ORDER BY id"))
        return {int(turn_id): bool(flag) for turn_id, flag in rows}
