"""Usage on record: written with the turn's finish (or alone, a tool round's), once per run,
and summed per assistant, user, channel and day."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.engine import Engine

from storage import finish, inbox, usage
from storage.db import Database
from storage.migrate import migrate
from storage.models import UsageRecord
from storage.usage import UsageBy, UsageTotal
from tests.turn_rows import dm_message, open_turn_over_pending

LEASE = timedelta(seconds=30)
KEY = "user:T/U1"
DAY1 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
DAY2 = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)


def _record(run_id: str, **fields: object) -> UsageRecord:
    values: dict[str, object] = {
        "run_id": run_id,
        "turn_id": 1,
        "team_id": "T",
        "channel_id": "DU1",
        "user_id": "U1",
        "key": KEY,
        "assistant": "tutor",
        "backend": "responses",
        "model": "gpt-5-mini",
        "input_tokens": 100,
        "cached_tokens": 40,
        "output_tokens": 10,
        "reasoning_tokens": 4,
        "tool_calls": 1,
        "recorded_at": DAY1,
    }
    return UsageRecord.model_validate(values | fields)


async def _finish_with_usage(url: str, *, owner: str, record: UsageRecord) -> int:
    """Open a turn held by "me" and finish it as `owner` with `record`; the parts written."""
    db = Database(url)
    try:
        async with db.session() as session:
            await inbox.enqueue_message(session=session, message=dm_message("U1", "1.000100"))
            turn = await open_turn_over_pending(session, key=KEY, owner="me", lease=LEASE)
        async with db.session(single=True) as session:
            parts = await finish.finish_turn(
                session=session,
                turn=turn,
                owner=owner,
                outcome="completed",
                parts=["the answer"],
                lease=LEASE,
                polls=1,
                usage=record,
            )
        return len(parts)
    finally:
        await db.close()


async def _record_all(url: str, records: list[UsageRecord]) -> None:
    db = Database(url)
    try:
        async with db.session() as session:
            for record in records:
                await usage.record_usage(session=session, record=record)
    finally:
        await db.close()


async def _totals(url: str, by: UsageBy, since: datetime | None = None) -> list[UsageTotal]:
    db = Database(url)
    try:
        async with db.session() as session:
            return await usage.usage_totals(session=session, by=by, since=since)
    finally:
        await db.close()


def _rows(db: Engine) -> list[tuple[object, ...]]:
    with db.connect() as connection:
        query = "SELECT run_id, input_tokens, cached_tokens, output_tokens FROM usage_record"
        return [tuple(row) for row in connection.execute(text(query))]


def test_the_final_runs_usage_is_written_with_the_finish(database_url: str, db: Engine) -> None:
    migrate(database_url)
    assert asyncio.run(_finish_with_usage(database_url, owner="me", record=_record("resp_1"))) == 1
    assert _rows(db) == [("resp_1", 100, 40, 10)]


def test_a_turn_no_longer_held_records_no_usage(database_url: str, db: Engine) -> None:
    migrate(database_url)
    record = _record("resp_1")
    assert asyncio.run(_finish_with_usage(database_url, owner="other", record=record)) == 0
    assert _rows(db) == []


def test_a_run_recorded_twice_is_one_row(database_url: str, db: Engine) -> None:
    migrate(database_url)
    asyncio.run(_record_all(database_url, [_record("resp_1"), _record("resp_1", input_tokens=7)]))
    asyncio.run(_finish_with_usage(database_url, owner="me", record=_record("resp_1")))
    assert _rows(db) == [("resp_1", 100, 40, 10)]


def test_totals_by_each_grouping_and_since(database_url: str, db: Engine) -> None:
    migrate(database_url)
    records = [
        _record("resp_1"),
        _record("resp_2", user_id="U2", channel_id="C1", recorded_at=DAY2, tool_calls=0),
        _record("run_3", assistant="legacy", backend="assistants", recorded_at=DAY2),
    ]
    asyncio.run(_record_all(database_url, records))
    by_assistant = asyncio.run(_totals(database_url, UsageBy.ASSISTANT))
    assert by_assistant == [
        UsageTotal("legacy", 1, 100, 40, 10, 4, 1),
        UsageTotal("tutor", 2, 200, 80, 20, 8, 1),
    ]
    assert [(t.group, t.runs) for t in asyncio.run(_totals(database_url, UsageBy.USER))] == [
        ("T/U1", 2),
        ("T/U2", 1),
    ]
    channels = asyncio.run(_totals(database_url, UsageBy.CHANNEL))
    assert [(t.group, t.runs) for t in channels] == [("T/C1", 1), ("T/DU1", 2)]
    days = asyncio.run(_totals(database_url, UsageBy.DAY))
    assert [(t.group, t.input_tokens) for t in days] == [("2026-11-30", 100), ("2026-12-01", 200)]
    since = asyncio.run(_totals(database_url, UsageBy.ASSISTANT, since=DAY2 - timedelta(hours=1)))
    assert [(t.group, t.runs) for t in since] == [("legacy", 1), ("tutor", 1)]
