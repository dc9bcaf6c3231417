"""SQLite's write lock held by another process: sessions wait for it without blocking the
event loop, the ack path's `ingest` gives up in time, and `serve`'s file lock is single."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine, make_url

from storage import inbox
from storage.db import Database, SQLiteInUse, hold_sqlite_lock, is_busy
from storage.migrate import migrate
from tests.conftest import ON_POSTGRES
from tests.turn_rows import dm_message

pytestmark = pytest.mark.skipif(ON_POSTGRES, reason="SQLite's own locks")


def _locked(database_url: str) -> sqlite3.Connection:
    connection = sqlite3.connect(str(make_url(database_url).database), isolation_level=None)
    connection.execute("BEGIN IMMEDIATE")
    return connection


async def _longest_stall(stop: asyncio.Event) -> float:
    """The longest the event loop went without running this coroutine's 5 ms ticks."""
    longest, last = 0.0, time.monotonic()
    while not stop.is_set():
        await asyncio.sleep(0.005)
        now = time.monotonic()
        longest, last = max(longest, now - last - 0.005), now
    return longest


def test_a_session_waits_for_the_lock_without_blocking_the_loop(
    database_url: str, db: Engine
) -> None:
    migrate(database_url)
    other = _locked(database_url)

    async def scenario() -> tuple[float, float]:
        bridge_db = Database(database_url)
        stop = asyncio.Event()
        ticking = asyncio.create_task(_longest_stall(stop))
        started = time.monotonic()
        # Held 1.5 s: a loop that waited in SQLite's busy handler would stall that long; a
        # loaded 2-core machine (CI's four workers) can stall a free loop for a few tenths.
        asyncio.get_running_loop().call_later(1.5, other.execute, "ROLLBACK")
        async with bridge_db.session() as session:
            await inbox.enqueue_message(session=session, message=dm_message("U1", "1.0"))
        waited = time.monotonic() - started
        stop.set()
        stall = await ticking
        await bridge_db.close()
        return waited, stall

    waited, stall = asyncio.run(scenario())
    other.close()
    assert 1.4 < waited < 3.5, waited
    assert stall < 0.5, stall
    with db.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM inbound_message").scalar() == 1


def test_the_ack_path_gives_up_on_a_lock_held_past_its_patience(database_url: str) -> None:
    migrate(database_url)
    other = _locked(database_url)

    async def scenario() -> tuple[BaseException | None, float]:
        bridge_db = Database(database_url)
        started = time.monotonic()
        try:
            await bridge_db.store(
                lambda session: inbox.enqueue_message(
                    session=session, message=dm_message("U1", "1.0")
                )
            )
        except Exception as exc:
            return exc, time.monotonic() - started
        finally:
            await bridge_db.close()
        return None, time.monotonic() - started

    error, took = asyncio.run(scenario())
    other.execute("ROLLBACK")
    other.close()
    assert error is not None and is_busy(error), error
    assert 1.5 < took < 2.5, took


def test_the_serve_lock_is_held_by_one_process_at_a_time(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bridge.db'}"
    hold_sqlite_lock(url)
    # Another open file description of the same lock file: as a second process would.
    with pytest.raises(SQLiteInUse):
        hold_sqlite_lock(url)
    assert (tmp_path / "bridge.db.lock").exists()
