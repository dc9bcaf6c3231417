"""Saved agents (Agents API) at `serve`'s start and in the `assistants` commands: the client,
the database and the migrations' lock around `bot.backends.agent_sync`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from openai import AsyncOpenAI
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot.assistants import Assistants
from bot.backends import build_client
from bot.backends.agent_sync import (
    Synced,
    recorded_agent_ids,
    resolve_agents,
    sync_agents,
    with_agent_ids,
)
from bot.config import Settings
from storage.db import Database, is_sqlite, normalize_url
from storage.migrate import migration_lock

NOT_SYNCED = "not synced yet: run assistant-bridge assistants sync"


def has_agents(assistants: Assistants) -> bool:
    return any(one.is_agent for one in assistants.by_name.values())


@asynccontextmanager
async def _locked(settings: Settings) -> AsyncIterator[tuple[AsyncOpenAI, Database]]:
    """The client and database, under the migrations' lock: several processes syncing at once
    (dynos starting together) take turns, so the second finds the first's agent on record."""
    # A start or a command waits on it: fewer retries and a shorter timeout than a turn's.
    client = build_client(settings).with_options(max_retries=1, timeout=20.0)
    database = Database(settings.database_url)
    try:
        async with migration_lock(settings.database_url):
            yield client, database
    finally:
        await client.close()
        await database.close()


async def agents_at_start(settings: Settings, assistants: Assistants) -> Assistants:
    """`serve`, after its migrations: the assistants with every agent's id set (synced)."""
    if not has_agents(assistants):
        return assistants
    async with _locked(settings) as (client, database):
        return await resolve_agents(client, database, assistants)


async def sync_command(settings: Settings, assistants: Assistants) -> list[Synced]:
    """`assistant-bridge assistants sync` (migrations applied first)."""
    if not has_agents(assistants):
        return []
    async with _locked(settings) as (client, database):
        return await sync_agents(client, database, assistants)


def format_synced(synced: list[Synced]) -> str:
    if not synced:
        return "No Agents API assistants to sync."
    width = max(len(done.assistant) for done in synced)
    outcomes = max(len(done.outcome) for done in synced)
    return "\n".join(
        f"{done.assistant:<{width}}  {done.outcome:<{outcomes}}  {done.agent_id}" for done in synced
    )


def _database_exists(url: str) -> bool:
    """False for a SQLite file not created yet (connecting would create it, empty)."""
    file = make_url(normalize_url(url, sync=True)).database if is_sqlite(url) else None
    return not file or file == ":memory:" or Path(file).is_file()


async def with_recorded_agents(settings: Settings, assistants: Assistants) -> Assistants:
    """The assistants with the agent ids on record (`assistants list`, `doctor`); none when
    the database is missing or not migrated yet (nothing synced then)."""
    if not any(one.agent_definition for one in assistants.by_name.values()):
        return assistants
    if not _database_exists(settings.database_url):
        return assistants
    database = Database(settings.database_url)
    try:
        return with_agent_ids(assistants, await recorded_agent_ids(database))
    except SQLAlchemyError:
        return assistants
    finally:
        await database.close()
