"""Saved agents on record: a creation noted first, then the id; one row per assistant."""

from __future__ import annotations

import asyncio

from storage import saved_agents
from storage.db import Database
from storage.migrate import migrate
from storage.saved_agents import AgentRecord


async def _steps(url: str) -> list[dict[str, AgentRecord]]:
    db = Database(url)
    seen = []
    try:
        async with db.session() as session:
            seen.append(await saved_agents.saved_agents(session=session))
            await saved_agents.begin_creation(
                session=session, assistant="analyst", token="tok1", definition_hash="h1"
            )
        async with db.session() as session:
            seen.append(await saved_agents.saved_agents(session=session))
            await saved_agents.record_agent(
                session=session, assistant="analyst", agent_id="agent_1", definition_hash="h1"
            )
            await saved_agents.record_agent(
                session=session, assistant="writer", agent_id="agent_2", definition_hash="w1"
            )
        async with db.session() as session:
            seen.append(await saved_agents.saved_agents(session=session))
            await saved_agents.record_agent(
                session=session, assistant="analyst", agent_id="agent_1", definition_hash="h2"
            )
            await saved_agents.begin_creation(
                session=session, assistant="writer", token="tok2", definition_hash="w2"
            )
        async with db.session() as session:
            seen.append(await saved_agents.saved_agents(session=session))
    finally:
        await db.close()
    return seen


def test_a_creation_is_noted_then_recorded_and_updated_in_place(database_url: str) -> None:
    migrate(database_url)
    empty, noted, recorded, changed = asyncio.run(_steps(database_url))
    assert empty == {}
    assert noted == {"analyst": AgentRecord("analyst", None, "h1", "tok1")}
    assert recorded == {
        "analyst": AgentRecord("analyst", "agent_1", "h1", None),
        "writer": AgentRecord("writer", "agent_2", "w1", None),
    }
    assert changed == {
        "analyst": AgentRecord("analyst", "agent_1", "h2", None),
        "writer": AgentRecord("writer", None, "w2", "tok2"),
    }
