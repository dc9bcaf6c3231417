"""The Stop button's storage: marking a turn stopped, only while it is unfinished."""

from __future__ import annotations

import asyncio

from sqlalchemy.engine import Engine

from storage import stops
from storage.db import Database
from storage.migrate import migrate
from tests.stop_rows import stop_requested, turn_over


def test_request_stop_marks_only_an_unfinished_turn(database_url: str, db: Engine) -> None:
    async def scenario() -> list[bool]:
        migrate(database_url)
        database = Database(database_url)
        try:
            running = await turn_over(
                database, key="user:T0TEST/U1", channel="D1", asked=[("U1", "1.1")]
            )
            done = await turn_over(
                database, key="user:T0TEST/U2", channel="D2", asked=[("U2", "2.1")], done=True
            )
            async with database.session() as session:
                return [
                    await stops.request_stop(session=session, turn_id=running),
                    await stops.request_stop(session=session, turn_id=done),
                    await stops.request_stop(session=session, turn_id=99999),
                ]
        finally:
            await database.close()

    assert asyncio.run(scenario()) == [True, False, False]
    assert sorted(stop_requested(db).values()) == [False, True]
