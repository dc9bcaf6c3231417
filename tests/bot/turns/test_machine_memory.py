"""The turn machine forgets a turn on every way it ends: finished, lost to another process, or a
step that failed. Nothing keyed by turn stays behind (a long-running process would grow)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta

import aiohttp
import pytest
from openai import AsyncOpenAI
from sqlalchemy import update

from bot.assistants import Assistant
from bot.backends import Backends
from bot.turns.machine import TurnMachine
from bot.turns.poll_planner import PollPlanner
from storage import inbox
from storage.db import Database
from storage.migrate import migrate
from storage.models import Turn, utcnow
from tests.bot.turns.recording_view import RecordingView, build_machine
from tests.fakes.openai_api import FakeOpenAI
from tests.turn_rows import dm_message

ASSISTANT = Assistant(name="helper", model="gpt-4o", instructions="Be brief.")
KEY = "user:T/U1"
LEASE = timedelta(seconds=30)

Scenario = Callable[[TurnMachine, Database, AsyncOpenAI, aiohttp.ClientSession], Awaitable[None]]


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as oa:
        oa.latency = 0.0
        yield oa


def _remembered(machine: TurnMachine) -> dict[str, object]:
    """Everything the turn machine keeps per turn or key; empty when it keeps nothing."""
    kept: dict[str, object] = {
        "held": dict(machine.ctx.book.held),
        "open keys": set(machine.ctx.book.open_keys),
        "waiting keys": set(machine.ctx.book.waiting_keys),
        "in flight": set(machine.ctx.book.in_flight),
    }
    kept = {name: value for name, value in kept.items() if value}
    if machine.ctx.keeper.in_flight():
        kept["lease keeper"] = machine.ctx.keeper.in_flight()
    return kept


async def _run(
    database_url: str, oa: FakeOpenAI, scenario: Scenario, view: RecordingView | None = None
) -> TurnMachine:
    view = view or RecordingView()
    migrate(database_url)
    db = Database(database_url)
    client = AsyncOpenAI(api_key="sk-test-key", base_url=oa.url + "/v1", max_retries=0)
    try:
        async with aiohttp.ClientSession() as http:
            machine = build_machine(
                db=db,
                backends=Backends(client, http),
                assistant=ASSISTANT,
                view=view,
                lease=LEASE,
                planner=PollPlanner(base=0.05, ceiling=0.2),
            )
            async with db.session() as session:
                await inbox.enqueue_message(session=session, message=dm_message("U1", "1.000100"))
            await scenario(machine, db, client, http)
            return machine
    finally:
        await client.close()
        await db.close()


async def _drive(machine: TurnMachine, *, steps: int = 40) -> None:
    """Stand in for the scheduler: run each planned step when it is due."""
    planned: list[tuple[int, datetime]] = []
    machine.schedule = lambda turn_id, when: planned.append((turn_id, when))
    await machine.dispatch(KEY)
    for _ in range(steps):
        if not planned:
            return
        turn_id, when = planned.pop(0)
        await asyncio.sleep(max(0.0, (when - utcnow()).total_seconds()))
        await machine.advance(turn_id)
    raise AssertionError(f"the turn did not end within {steps} steps")


def test_a_finished_turn_leaves_nothing_behind(database_url: str, fake_openai: FakeOpenAI) -> None:
    async def finish(machine: TurnMachine, *_: object) -> None:
        await _drive(machine)
        assert fake_openai.responses_created(), "the turn ran"

    machine = asyncio.run(_run(database_url, fake_openai, finish))
    assert _remembered(machine) == {}


def test_a_turn_lost_to_another_process_leaves_nothing_behind(
    database_url: str, fake_openai: FakeOpenAI
) -> None:
    async def lose(machine: TurnMachine, db: Database, *_: object) -> None:
        planned: list[int] = []
        machine.schedule = lambda turn_id, _when: planned.append(turn_id)
        fake_openai.latency = 5.0  # still running at the first poll
        await machine.dispatch(KEY)
        assert planned, "the run started and its first poll was planned"
        async with db.session() as session:  # another process took the turn over
            await session.exec(update(Turn).values(owner="other", lease_until=utcnow() + LEASE))
        machine.ctx.book.held[planned[0]].turn.lease_until = utcnow()  # due for renewal
        fake_openai.latency = 0.0
        await machine.advance(planned[0])
        assert view.lost == [planned[0]], "whatever else remembers the turn is told"

    view = RecordingView()
    machine = asyncio.run(_run(database_url, fake_openai, lose, view))
    assert _remembered(machine) == {}


def test_a_step_that_fails_drops_the_turn_so_a_retry_starts_from_the_database(
    database_url: str, fake_openai: FakeOpenAI
) -> None:
    async def fail(
        machine: TurnMachine, _db: Database, _client: AsyncOpenAI, http: aiohttp.ClientSession
    ) -> None:
        planned: list[int] = []
        machine.schedule = lambda turn_id, _when: planned.append(turn_id)
        fake_openai.latency = 5.0
        await machine.dispatch(KEY)
        await http.close()  # the next poll fails with an error no step expects
        await machine.advance(planned[0])
        assert planned[1:] == [planned[0]], "a retry of the turn is planned"

    machine = asyncio.run(_run(database_url, fake_openai, fail))
    assert _remembered(machine) == {}
