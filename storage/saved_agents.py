"""Saved agents on record: which OpenAI agent each `kind = "agent"` assistant is synced to."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import SavedAgent, utcnow
from storage.upsert import insert_ignore


@dataclass(frozen=True)
class AgentRecord:
    """What is on record for one assistant's saved agent."""

    assistant: str
    agent_id: str | None
    definition_hash: str | None
    creation_token: str | None


async def saved_agents(*, session: AsyncSession) -> dict[str, AgentRecord]:
    """Every record, by assistant name."""
    rows = (await session.exec(select(SavedAgent))).all()
    return {
        row.assistant: AgentRecord(
            row.assistant, row.agent_id, row.definition_hash, row.creation_token
        )
        for row in rows
    }


async def _upsert(session: AsyncSession, assistant: str, values: dict[str, object]) -> None:
    values = {**values, "updated_at": utcnow()}
    stmt = insert_ignore(session, SavedAgent).values(assistant=assistant, **values)
    await session.exec(stmt.on_conflict_do_update(index_elements=["assistant"], set_=values))


async def begin_creation(
    *, session: AsyncSession, assistant: str, token: str, definition_hash: str
) -> None:
    """Note, before `agents.create`, the token the new agent carries in its metadata (and the
    definition it is created with); any previous agent id is dropped (it is gone)."""
    await _upsert(
        session,
        assistant,
        {"agent_id": None, "definition_hash": definition_hash, "creation_token": token},
    )


async def record_agent(
    *, session: AsyncSession, assistant: str, agent_id: str, definition_hash: str
) -> None:
    """The assistant's saved agent is `agent_id`, as defined by `definition_hash`."""
    await _upsert(
        session,
        assistant,
        {"agent_id": agent_id, "definition_hash": definition_hash, "creation_token": None},
    )
