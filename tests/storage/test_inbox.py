"""The inbox tells a new Slack message from one it already holds, on either database."""

from __future__ import annotations

import asyncio

from storage import inbox
from storage.db import Database
from storage.migrate import migrate
from tests.turn_rows import dm_message


def test_a_message_stored_again_is_reported_as_not_new(database_url: str) -> None:
    # What decides whether a retry of a Slack event is handed on again (the dispatch, the
    # agent view's thread title): PostgreSQL's driver reports no row count for this insert.
    async def store_twice() -> list[bool]:
        database = Database(database_url)
        try:
            found = []
            for single in (True, False, True):
                async with database.ingest(single=single) as session:
                    found.append(
                        await inbox.enqueue_message(
                            session=session, message=dm_message("U1", "1.0")
                        )
                    )
            async with database.ingest() as session:
                found.append(
                    await inbox.enqueue_message(session=session, message=dm_message("U1", "2.0"))
                )
            return found
        finally:
            await database.close()

    migrate(database_url)
    assert asyncio.run(store_twice()) == [True, False, False, True]
