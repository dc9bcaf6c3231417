"""Saved agents synced against the fake OpenAI through the real SDK: created once, unchanged on
a second run, updated when the definition changes, created again when gone, adopted after a
create whose answer was lost, and every failure a sentence."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from openai import AsyncOpenAI

from bot.assistants import Assistants, parse_assistants_file
from bot.backends.agent_sync import Outcome, Synced, resolve_agents, sync_agents
from bot.backends.openai_errors import AgentSyncError
from storage import saved_agents
from storage.db import Database
from storage.migrate import migrate
from tests.fakes.openai_api import FakeOpenAI

T = TypeVar("T")
KEY = "sk-test-key"
ANALYST = """\
[assistants.analyst]
kind = "agent"
model = "gpt-5"
instructions = "Analyse the numbers."
tools = ["web_search"]
functions = ["bot.builtin_functions:current_time"]
"""


@pytest.fixture
def oa() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


def assistants_of(tmp_path: Path, text: str) -> Assistants:
    path = tmp_path / "assistants.toml"
    path.write_text(text)
    return parse_assistants_file(path)


def on_fake(oa: FakeOpenAI, url: str, work: Callable[[AsyncOpenAI, Database], Awaitable[T]]) -> T:
    async def scenario() -> T:
        client = AsyncOpenAI(api_key=KEY, base_url=oa.url + "/v1", max_retries=0)
        database = Database(url)
        try:
            return await work(client, database)
        finally:
            await client.close()
            await database.close()

    return asyncio.run(scenario())


def sync(oa: FakeOpenAI, url: str, assistants: Assistants) -> list[Synced]:
    return on_fake(oa, url, lambda client, db: sync_agents(client, db, assistants))


def sync_error(oa: FakeOpenAI, url: str, assistants: Assistants) -> AgentSyncError:
    with pytest.raises(AgentSyncError) as raised:
        sync(oa, url, assistants)
    assert KEY not in str(raised.value)
    return raised.value


def updates(oa: FakeOpenAI) -> int:
    return len(oa.calls("POST", r"^/v1/agents/agent_"))


def test_a_defined_agent_is_created_once_then_left_unchanged(
    oa: FakeOpenAI, database_url: str, tmp_path: Path
) -> None:
    migrate(database_url)
    assistants = assistants_of(tmp_path, ANALYST)
    [created] = sync(oa, database_url, assistants)
    assert created.outcome is Outcome.CREATED
    [agent] = oa.agents()
    assert agent["id"] == created.agent_id
    assert (agent["model"], agent["name"], agent["instructions"]) == (
        "gpt-5",
        "analyst",
        "Analyse the numbers.",
    )
    assert agent["metadata"]["assistant_bridge"] == "analyst"
    assert [tool["type"] for tool in agent["tools"]] == ["web_search", "function"]
    assert agent["tools"][1]["name"] == "current_time"
    assert all(r.headers["openai-beta"] == "agents=v1" for r in oa.calls("*", r"^/v1/agents"))

    again = sync(oa, database_url, assistants)
    assert again == [Synced("analyst", Outcome.UNCHANGED, created.agent_id)]
    assert updates(oa) == 0 and len(oa.calls("POST", r"^/v1/agents$")) == 1


def test_changed_instructions_update_the_same_agent(
    oa: FakeOpenAI, database_url: str, tmp_path: Path
) -> None:
    migrate(database_url)
    [created] = sync(oa, database_url, assistants_of(tmp_path, ANALYST))
    changed = assistants_of(tmp_path, ANALYST.replace("Analyse the numbers.", "Be brief."))
    assert sync(oa, database_url, changed) == [Synced("analyst", Outcome.UPDATED, created.agent_id)]
    [agent] = oa.agents()
    assert agent["instructions"] == "Be brief."
    assert updates(oa) == 1
    assert sync(oa, database_url, changed)[0].outcome is Outcome.UNCHANGED
    assert updates(oa) == 1


def test_a_recorded_agent_deleted_at_openai_is_created_again(
    oa: FakeOpenAI, database_url: str, tmp_path: Path
) -> None:
    migrate(database_url)
    assistants = assistants_of(tmp_path, ANALYST)
    [first] = sync(oa, database_url, assistants)
    on_fake(oa, database_url, lambda client, _db: client.beta.agents.delete(first.agent_id))
    [second] = sync(oa, database_url, assistants)
    assert second.outcome is Outcome.CREATED and second.agent_id != first.agent_id
    assert [agent["id"] for agent in oa.agents()] == [second.agent_id]
    assert sync(oa, database_url, assistants)[0] == Synced(
        "analyst", Outcome.UNCHANGED, second.agent_id
    )


def test_an_agent_created_but_not_recorded_is_adopted_not_created_twice(
    oa: FakeOpenAI, database_url: str, tmp_path: Path
) -> None:
    migrate(database_url)
    assistants = assistants_of(tmp_path, ANALYST)
    oa.add_agent(metadata={"assistant_bridge": "analyst"})  # another deployment's: not ours
    oa.lose_answer_next("POST", r"^/v1/agents$")
    error = sync_error(oa, database_url, assistants)
    assert error.unreachable
    assert len(oa.agents()) == 2, "the create took effect; its answer was lost"
    [adopted] = sync(oa, database_url, assistants)
    assert adopted.outcome is Outcome.ADOPTED
    ours = [a for a in oa.agents() if "assistant_bridge_token" in a["metadata"]]
    assert [a["id"] for a in ours] == [adopted.agent_id]
    assert len(oa.agents()) == 2 and updates(oa) == 0
    assert sync(oa, database_url, assistants)[0].outcome is Outcome.UNCHANGED


@pytest.mark.parametrize("status", [403, 401])
def test_a_key_without_the_agents_permissions_is_told_so(
    status: int, oa: FakeOpenAI, database_url: str, tmp_path: Path
) -> None:
    migrate(database_url)
    oa.agents_denied_status = status
    error = sync_error(oa, database_url, assistants_of(tmp_path, ANALYST))
    assert str(error).startswith(
        "assistant analyst: creating its agent: the key lacks the Agents API permissions: "
        "give it api.agents.read and api.agents.write"
    )
    assert f"(HTTP {status})" in str(error) and not error.unreachable


def test_a_saved_agent_is_only_checked(oa: FakeOpenAI, database_url: str, tmp_path: Path) -> None:
    migrate(database_url)
    agent = oa.add_agent(model="gpt-5")
    text = f'[assistants.saved]\nagent = "{agent["id"]}"\n'
    assert sync(oa, database_url, assistants_of(tmp_path, text)) == [
        Synced("saved", Outcome.EXISTS, agent["id"])
    ]
    assert oa.calls("POST", r"^/v1/agents") == []


def test_a_missing_saved_agent_names_what_to_fix(
    oa: FakeOpenAI, database_url: str, tmp_path: Path
) -> None:
    migrate(database_url)
    error = sync_error(
        oa, database_url, assistants_of(tmp_path, '[assistants.s]\nagent = "ag_x"\n')
    )
    assert str(error) == (
        "assistant s: saved agent ag_x does not exist at OpenAI (for this key's project): fix "
        f"`agent` in {tmp_path / 'assistants.toml'}"
    )


def test_resolve_gives_every_agent_its_id(
    oa: FakeOpenAI, database_url: str, tmp_path: Path
) -> None:
    migrate(database_url)
    saved = oa.add_agent()
    text = f'default = "analyst"\n{ANALYST}\n[assistants.saved]\nagent = "{saved["id"]}"\n'
    assistants = assistants_of(tmp_path, text)
    resolved = on_fake(oa, database_url, lambda c, db: resolve_agents(c, db, assistants))
    [created] = [a for a in oa.agents() if a["id"] != saved["id"]]
    assert resolved.by_name["analyst"].agent_id == created["id"]
    assert resolved.by_name["saved"].agent_id == saved["id"]
    assert resolved.by_name["analyst"].agent_definition == (
        assistants.by_name["analyst"].agent_definition
    )


def test_resolve_while_openai_is_down_uses_the_recorded_ids_or_stops(
    oa: FakeOpenAI, database_url: str, tmp_path: Path
) -> None:
    migrate(database_url)
    assistants = assistants_of(tmp_path, ANALYST)

    async def down(_client: AsyncOpenAI, database: Database) -> Assistants:
        unreachable = AsyncOpenAI(api_key=KEY, base_url="http://127.0.0.1:9/v1", max_retries=0)
        try:
            return await resolve_agents(unreachable, database, assistants)
        finally:
            await unreachable.close()

    with pytest.raises(AgentSyncError) as raised:
        on_fake(oa, database_url, down)
    assert "OpenAI is unreachable at http://127.0.0.1:9/v1" in str(raised.value)

    async def record(_client: AsyncOpenAI, database: Database) -> None:
        async with database.session() as session:
            await saved_agents.record_agent(
                session=session, assistant="analyst", agent_id="agent_rec", definition_hash="h"
            )

    on_fake(oa, database_url, record)
    resolved = on_fake(oa, database_url, down)
    assert resolved.by_name["analyst"].agent_id == "agent_rec"
