"""Bring the schema up to date with Alembic; on PostgreSQL under an advisory lock."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from storage.db import is_sqlite, normalize_url, safe_url

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
# Any fixed 64-bit number: several dynos starting at once queue on it, and only the
# first one migrates.
_LOCK_KEY = 0x5AB0_B41D


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalize_url(url, sync=True).replace("%", "%%"))
    return config


def migrate(url: str) -> None:
    """Apply every pending migration. Raises SQLAlchemyError if the database is unreachable."""
    config = alembic_config(url)
    engine = create_engine(normalize_url(url, sync=True))
    try:
        with engine.begin() as connection:
            if not is_sqlite(url):
                connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        engine.dispose()
    log.info("database %s is up to date", safe_url(url))


@asynccontextmanager
async def migration_lock(url: str) -> AsyncIterator[None]:
    """Hold the migrations' lock (PostgreSQL; nothing on SQLite, one process) while work that
    must happen once across processes runs: `serve`'s agent sync at start, after `migrate`."""
    if is_sqlite(url):
        yield
        return
    engine = create_engine(normalize_url(url, sync=True))
    connection = await asyncio.to_thread(_locked, engine)
    try:
        yield
    finally:
        await asyncio.to_thread(_unlock, engine, connection)


def _locked(engine: Engine) -> Connection:
    connection = engine.connect()
    try:
        connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _LOCK_KEY})
        connection.commit()
    except BaseException:
        connection.close()
        raise
    return connection


def _unlock(engine: Engine, connection: Connection) -> None:
    try:
        connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
        connection.commit()
    finally:
        connection.close()
        engine.dispose()


def pending_migrations(connection: Connection, url: str) -> list[str]:
    """Revisions not yet applied (empty when the schema is current)."""
    script = ScriptDirectory.from_config(alembic_config(url))
    current = set(MigrationContext.configure(connection).get_current_heads())
    heads = set(script.get_heads())
    if current == heads:
        return []
    return [rev.revision for rev in script.walk_revisions() if rev.revision not in current]


__all__ = ["SQLAlchemyError", "migrate", "migration_lock", "pending_migrations"]
