"""`assistants sync` (and `serve` at start): each `kind = "agent"` assistant's saved agent at
OpenAI created or updated and its id recorded; each `agent = "…"` one checked to exist."""

from __future__ import annotations

import dataclasses
import logging
import secrets
from dataclasses import dataclass
from enum import StrEnum

import openai
from openai import AsyncOpenAI
from openai.types.beta.agent import Agent

from bot.agent_spec import AgentDefinition
from bot.assistants import Assistant, Assistants
from bot.backends.openai_errors import AgentSyncError, sync_error
from storage import saved_agents
from storage.db import Database
from storage.saved_agents import AgentRecord

log = logging.getLogger(__name__)

# Metadata on every agent the bridge creates: the assistant's name, and the token noted in
# `saved_agent` before the create (how an agent whose creator died unrecorded is found).
NAME_KEY = "assistant_bridge"
TOKEN_KEY = "assistant_bridge_token"


class Outcome(StrEnum):
    """What the sync did for one assistant."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    ADOPTED = "adopted"  # created by a run that died before recording it
    EXISTS = "exists"  # `agent = "…"`: checked, never changed


@dataclass(frozen=True)
class Synced:
    assistant: str
    outcome: Outcome
    agent_id: str


async def sync_agents(
    client: AsyncOpenAI, database: Database, assistants: Assistants
) -> list[Synced]:
    """Sync every agent assistant, by name; raises AgentSyncError (a sentence) on failure."""
    agents = [assistants.by_name[name] for name in assistants.names]
    agents = [one for one in agents if one.is_agent]
    if not agents:
        return []
    records = await _records(database)
    done = []
    for one in agents:
        if one.agent_definition is None:
            missing = _saved_missing(one, assistants.source)
            await _retrieve(client, one, one.agent_id, missing=missing)
            done.append(Synced(one.name, Outcome.EXISTS, one.agent_id))
        else:
            done.append(await _sync_one(client, database, one, records.get(one.name)))
    return done


async def resolve_agents(
    client: AsyncOpenAI, database: Database, assistants: Assistants
) -> Assistants:
    """The assistants with every agent's `agent_id` set, after a sync (`serve` calls this at
    start, under the migration lock). OpenAI unreachable but every defined agent on record:
    the recorded ids, and a warning; else the AgentSyncError."""
    try:
        synced = {
            done.assistant: done.agent_id
            for done in await sync_agents(client, database, assistants)
        }
    except AgentSyncError as exc:
        if not exc.unreachable:
            raise
        recorded = await _records(database)
        synced = {name: record.agent_id for name, record in recorded.items() if record.agent_id}
        if any(
            one.agent_definition is not None and one.name not in synced
            for one in assistants.by_name.values()
        ):
            raise
        log.warning("%s; using the agents on record, unchecked", exc)
    return with_agent_ids(assistants, synced)


def with_agent_ids(assistants: Assistants, agent_ids: dict[str, str]) -> Assistants:
    """The assistants with the given agents' ids set (`kind = "agent"` ones)."""
    by_name = {
        name: dataclasses.replace(one, agent_id=agent_ids[name])
        if one.agent_definition is not None and name in agent_ids
        else one
        for name, one in assistants.by_name.items()
    }
    return dataclasses.replace(assistants, by_name=by_name)


async def recorded_agent_ids(database: Database) -> dict[str, str]:
    """The recorded agent id of each synced assistant (`assistants list`, `doctor`)."""
    return {name: r.agent_id for name, r in (await _records(database)).items() if r.agent_id}


async def _records(database: Database) -> dict[str, AgentRecord]:
    async with database.session() as session:
        return await saved_agents.saved_agents(session=session)


async def _sync_one(
    client: AsyncOpenAI, database: Database, one: Assistant, record: AgentRecord | None
) -> Synced:
    definition = one.agent_definition
    assert definition is not None
    digest = definition.digest
    if record is not None and record.agent_id:
        if await _retrieve(client, one, record.agent_id) is not None:
            if record.definition_hash == digest:
                return Synced(one.name, Outcome.UNCHANGED, record.agent_id)
            await _update(client, one, record.agent_id, definition)
            await _record(database, one.name, record.agent_id, digest)
            return Synced(one.name, Outcome.UPDATED, record.agent_id)
        log.warning("the agent of assistant %s (%s) is gone at OpenAI", one.name, record.agent_id)
    elif record is not None and record.creation_token:
        found = await _created_by(client, one, record.creation_token)
        if found is not None:
            if record.definition_hash != digest:
                await _update(client, one, found.id, definition)
            await _record(database, one.name, found.id, digest)
            return Synced(one.name, Outcome.ADOPTED, found.id)
    token = secrets.token_hex(16)
    async with database.session() as session:
        await saved_agents.begin_creation(
            session=session, assistant=one.name, token=token, definition_hash=digest
        )
    try:
        agent = await client.beta.agents.create(
            **definition.body(), metadata={NAME_KEY: one.name, TOKEN_KEY: token}
        )
    except openai.OpenAIError as exc:
        raise sync_error(exc, client, one.name, "creating its agent") from None
    await _record(database, one.name, agent.id, digest)
    return Synced(one.name, Outcome.CREATED, agent.id)


async def _record(database: Database, name: str, agent_id: str, digest: str) -> None:
    async with database.session() as session:
        await saved_agents.record_agent(
            session=session, assistant=name, agent_id=agent_id, definition_hash=digest
        )


async def _retrieve(
    client: AsyncOpenAI, one: Assistant, agent_id: str, *, missing: str = ""
) -> Agent | None:
    """The agent; None if it does not exist (or the AgentSyncError `missing` says)."""
    try:
        return await client.beta.agents.retrieve(agent_id)
    except openai.NotFoundError:
        if missing:
            raise AgentSyncError(missing) from None
        return None
    except openai.OpenAIError as exc:
        raise sync_error(exc, client, one.name, f"retrieving agent {agent_id}") from None


async def _update(
    client: AsyncOpenAI, one: Assistant, agent_id: str, definition: AgentDefinition
) -> None:
    try:
        await client.beta.agents.update(agent_id, **definition.body())
    except openai.OpenAIError as exc:
        raise sync_error(exc, client, one.name, f"updating agent {agent_id}") from None


async def _created_by(client: AsyncOpenAI, one: Assistant, token: str) -> Agent | None:
    """The agent an earlier sync created with `token` but did not record, if any."""
    try:
        async for agent in client.beta.agents.list(limit=100):
            if agent.metadata.get(TOKEN_KEY) == token and agent.metadata.get(NAME_KEY) == one.name:
                return agent
    except openai.OpenAIError as exc:
        raise sync_error(exc, client, one.name, "listing agents") from None
    return None


def _saved_missing(one: Assistant, source: str) -> str:
    where = "OPENAI_AGENT_ID" if source == "environment" else f"`agent` in {source}"
    return (
        f"assistant {one.name}: saved agent {one.agent_id} does not exist at OpenAI (for this "
        f"key's project): fix {where}"
    )
