"""Sessions commit or roll back as a whole; dead pooled connections are replaced, not fatal."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import inbox
from storage.db import Database, normalize_url
from storage.db import create_engine as create_async_engine
from storage.migrate import migrate
from storage.models import BotThread
from tests.conftest import ON_POSTGRES
from tests.turn_rows import dm_message

T = TypeVar("T")
on_postgres = pytest.mark.skipif(
    not ON_POSTGRES, reason="pooled network connections exist only on PostgreSQL"
)


async def _with_database(url: str, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run `work` with the bridge's `Database` on `url`, closed afterwards."""
    bridge_db = Database(url)
    try:
        return await work(bridge_db)
    finally:
        await bridge_db.close()


def _count(db: Engine, table: str) -> int:
    with db.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_a_session_that_fails_leaves_nothing_written(database_url: str, db: Engine) -> None:
    migrate(database_url)

    async def fail_midway(bridge_db: Database) -> None:
        async with bridge_db.session() as session:
            await inbox.enqueue_message(session=session, message=dm_message("U1", "1.0"))  # Core
            session.add(BotThread(channel_id="C1", thread_ts="1.0"))  # ORM
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        asyncio.run(_with_database(database_url, fail_midway))
    assert (_count(db, "inbound_message"), _count(db, "bot_thread")) == (0, 0)


def test_a_session_commits_core_and_orm_writes_together(database_url: str, db: Engine) -> None:
    migrate(database_url)

    async def write(bridge_db: Database) -> None:
        async with bridge_db.session() as session:
            await inbox.enqueue_message(session=session, message=dm_message("U1", "1.0"))
            session.add(BotThread(channel_id="C1", thread_ts="1.0"))
        async with bridge_db.session(single=True) as session:
            await inbox.remember_bot_thread(session=session, channel_id="C2", thread_ts="2.0")
            assert await inbox.is_bot_thread(session=session, channel_id="C1", thread_ts="1.0")

    asyncio.run(_with_database(database_url, write))
    assert (_count(db, "inbound_message"), _count(db, "bot_thread")) == (1, 2)


def _tagged(url: str) -> tuple[str, str]:
    """`url` with an application_name of its own, to find (and kill) its connections."""
    name = f"bridge-test-{uuid.uuid4().hex[:8]}"
    tagged = make_url(url).update_query_dict({"application_name": name})
    return tagged.render_as_string(hide_password=False), name


def _kill_connections(url: str, application_name: str) -> int:
    """Terminate the server side of every connection tagged `application_name`."""
    admin = create_engine(normalize_url(url, sync=True))
    try:
        with admin.begin() as connection:
            killed = connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = :name"
                ),
                {"name": application_name},
            ).scalar_one()
    finally:
        admin.dispose()
    return int(killed)


async def _select_one(engine_url: str, *, ping_after_idle: float) -> list[str]:
    """Run SELECT 1 three times on a one-connection pool whose connection is killed after
    the first; what each attempt gave ("ok" or "lost")."""
    url, name = _tagged(engine_url)
    engine = create_async_engine(url, pool_size=1, ping_after_idle=ping_after_idle)
    outcomes: list[str] = []
    try:
        for attempt in range(3):
            if attempt == 1:
                assert _kill_connections(engine_url, name) == 1
            try:
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
                outcomes.append("ok")
            except DBAPIError as exc:
                assert exc.connection_invalidated
                outcomes.append("lost")
    finally:
        await engine.dispose()
    return outcomes


@on_postgres
def test_an_idle_connection_the_server_dropped_is_replaced_before_use(database_url: str) -> None:
    assert asyncio.run(_select_one(database_url, ping_after_idle=0.0)) == ["ok", "ok", "ok"]


@on_postgres
def test_a_busy_connection_is_not_pinged_and_a_dead_one_fails_only_once(
    database_url: str,
) -> None:
    # Used a moment ago, so not pinged: the dead connection fails its statement once, and
    # the pool replaces it for the next one.
    assert asyncio.run(_select_one(database_url, ping_after_idle=3600.0)) == ["ok", "lost", "ok"]


@on_postgres
def test_storing_a_message_survives_a_connection_lost_since_its_last_use(
    database_url: str, db: Engine
) -> None:
    migrate(database_url)
    url, name = _tagged(database_url)

    async def store_twice(bridge_db: Database) -> list[bool]:
        async def write(ts: str) -> bool:
            async def enqueue(session: AsyncSession) -> bool:
                return await inbox.enqueue_message(session=session, message=dm_message("U1", ts))

            return await bridge_db.store(enqueue)

        first = await write("1.0")
        assert _kill_connections(database_url, name) >= 1
        return [first, await write("2.0")]

    assert asyncio.run(_with_database(url, store_twice)) == [True, True]
    assert _count(db, "inbound_message") == 2


@pytest.mark.skipif(ON_POSTGRES, reason="only SQLite's transactions run in the event loop's thread")
def test_a_sqlite_session_runs_to_its_commit_without_yielding_to_the_loop(
    database_url: str, db: Engine
) -> None:
    migrate(database_url)

    async def one_transaction(bridge_db: Database) -> None:
        async with bridge_db.session() as session:
            await inbox.enqueue_message(session=session, message=dm_message("U1", "1.0"))  # Core
            await inbox.remember_bot_thread(session=session, channel_id="C2", thread_ts="2.0")
            thread = BotThread(channel_id="C1", thread_ts="1.0")
            session.add(thread)
            await session.flush()
            await session.refresh(thread)
            assert await inbox.is_bot_thread(session=session, channel_id="C2", thread_ts="2.0")

    async def finishes_in_one_step(bridge_db: Database) -> bool:
        # Driven by hand, a coroutine that never gives the loop back finishes on its first
        # step; one that awaits something pending returns it instead.
        transaction = one_transaction(bridge_db)
        try:
            transaction.send(None)
        except StopIteration:
            return True
        transaction.close()
        return False

    assert asyncio.run(_with_database(database_url, finishes_in_one_step))
    assert (_count(db, "inbound_message"), _count(db, "bot_thread")) == (1, 2)
