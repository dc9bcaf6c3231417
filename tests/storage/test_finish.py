"""Finishing a turn writes the turn, the watermark and the reply parts together, or nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.engine import Engine

from storage import finish, inbox
from storage.db import Database
from storage.migrate import migrate
from storage.models import Reply, ReplyStatus, Turn
from tests.turn_rows import dm_message, open_turn_over_pending

LEASE = timedelta(seconds=30)
KEY = "user:T/U1"


async def _open_and_finish(
    url: str,
    *,
    owner: str,
    watermark: str | None,
    files: list[str],
    texts: tuple[str, ...] = ("first", "second"),
) -> tuple[list[Reply], Turn]:
    """Open a turn (held by "me") over one message, then finish it as `owner`."""
    db = Database(url)
    try:
        async with db.session() as session:
            await inbox.enqueue_message(
                session=session, message=dm_message("U1", "1.000100", thread_ts="1.000050")
            )
            turn = await open_turn_over_pending(session, key=KEY, owner="me", lease=LEASE)
        async with db.session(single=True) as session:
            parts = await finish.finish_turn(
                session=session,
                turn=turn,
                owner=owner,
                outcome="completed",
                parts=list(texts),
                files=files,
                lease=LEASE,
                polls=3,
                watermark=watermark,
            )
        return parts, turn
    finally:
        await db.close()


def _state(db: Engine) -> tuple[tuple[str, str | None, int, str | None], str | None, int]:
    """(the turn's status, owner, polls, outcome), the conversation's watermark, reply rows."""
    with db.connect() as connection:
        turn = connection.execute(text("SELECT status, owner, polls, outcome FROM turn")).one()
        watermark = connection.execute(text("SELECT watermark FROM conversation")).scalar_one()
        replies = connection.execute(text("SELECT count(*) FROM reply")).scalar_one()
    return (turn[0], turn[1], turn[2], turn[3]), watermark, int(replies)


def test_a_held_turn_is_finished_with_its_parts_in_order(database_url: str, db: Engine) -> None:
    migrate(database_url)
    parts, turn = asyncio.run(
        _open_and_finish(database_url, owner="me", watermark="msg_9", files=['{"f": 1}'])
    )
    assert [(p.seq, p.markdown, p.file_ref) for p in parts] == [
        (0, "first", None),
        (1, "second", None),
        (2, "", '{"f": 1}'),
    ]
    assert all(p.turn_id == turn.id and p.id is not None for p in parts)
    assert {(p.channel_id, p.thread_ts, p.status, p.owner, p.attempts) for p in parts} == {
        ("DU1", "1.000050", ReplyStatus.PENDING, "me", 0)
    }
    assert all(p.lease_until is not None and p.sending_at is not None for p in parts)
    assert _state(db) == (("done", None, 3, "completed"), "msg_9", 3)


def test_finishing_without_a_watermark_keeps_the_conversations(
    database_url: str, db: Engine
) -> None:
    migrate(database_url)
    parts, _ = asyncio.run(_open_and_finish(database_url, owner="me", watermark=None, files=[]))
    assert [p.markdown for p in parts] == ["first", "second"]
    assert _state(db) == (("done", None, 3, "completed"), None, 2)


def test_a_turn_another_process_holds_is_left_alone(database_url: str, db: Engine) -> None:
    migrate(database_url)
    parts, _ = asyncio.run(
        _open_and_finish(database_url, owner="someone-else", watermark="msg_9", files=[])
    )
    assert parts == []
    assert _state(db) == (("starting", "me", 0, None), None, 0)


def test_a_turn_without_parts_is_finished_with_none(database_url: str, db: Engine) -> None:
    migrate(database_url)
    parts, _ = asyncio.run(
        _open_and_finish(database_url, owner="me", watermark="msg_9", files=[], texts=())
    )
    assert parts == []
    assert _state(db) == (("done", None, 3, "completed"), "msg_9", 0)
