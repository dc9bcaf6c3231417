"""A slow poll answer is not added to the run: the next poll is planned from when it was sent."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import aiohttp
from openai import AsyncOpenAI

from bot.assistants import Assistant
from bot.backends import Backends
from bot.backends.base import UserMessage
from bot.turns.poll_planner import PollPlanner
from storage import conversations, inbox, turns
from storage.db import Database
from storage.migrate import migrate
from storage.models import utcnow
from tests.bot.turns.recording_view import RecordingView, build_machine
from tests.fakes.openai_api import FakeOpenAI
from tests.turn_rows import dm_message, open_turn_over_pending

ASSISTANT = Assistant(name="helper", model="gpt-4o", instructions="Be brief.")
KEY = "user:T/U1"
LEASE = timedelta(seconds=30)
POLL = r"^/v1/responses/resp_[^/]+$"


async def _running_turn(db: Database, conversation_openai_id: str, run_id: str) -> int:
    """The database rows of a running turn held by "me"; its id."""
    async with db.session() as session:
        await inbox.enqueue_message(session=session, message=dm_message("U1", "1.000100"))
        turn = await open_turn_over_pending(
            session, key=KEY, owner="me", lease=LEASE, assistant=ASSISTANT.name
        )
        await conversations.set_conversation_openai_id(
            session=session, conversation_id=turn.conversation_id, openai_id=conversation_openai_id
        )
    turn_id = turn.id or 0
    async with db.session() as session:
        await turns.record_started(
            session=session,
            turn_id=turn_id,
            owner="me",
            run_id=run_id,
            next_poll_at=utcnow(),
            lease=LEASE,
        )
    return turn_id


async def _gap_to_next_poll(tmp_path: Path, oa: FakeOpenAI, answer_seconds: float) -> float:
    """Poll a running turn once, the answer taking `answer_seconds`; seconds from sending that
    poll to the next one the turn machine schedules."""
    url = f"sqlite:///{tmp_path / 'bridge.db'}"
    migrate(url)
    db = Database(url)
    client = AsyncOpenAI(api_key="sk-test-key", base_url=oa.url + "/v1", max_retries=0)
    try:
        async with aiohttp.ClientSession() as http:
            backends = Backends(client, http)
            conversation = await backends.responses.create_conversation(
                key=KEY, assistant=ASSISTANT
            )
            run_id = await backends.responses.start_run(
                conversation_id=conversation, assistant=ASSISTANT, messages=[UserMessage("hi")]
            )
            turn_id = await _running_turn(db, conversation, run_id)

            view = RecordingView()  # the run is still going: nothing is delivered
            machine = build_machine(
                db=db,
                backends=backends,
                assistant=ASSISTANT,
                view=view,
                lease=LEASE,
                planner=PollPlanner(base=0.25, ceiling=3.0),
            )
            scheduled: list[float] = []
            machine.schedule = lambda _turn_id, when: scheduled.append(when.timestamp())
            oa.hold_answer_next("GET", POLL, answer_seconds)
            sent = utcnow().timestamp()
            await machine.advance(turn_id)  # takes the turn up (this owner's) and polls it
            assert len(scheduled) == 1, "not polled: the turn machine did not take the turn up"
            assert view.delivered == [], "the run is still going"
            return scheduled[0] - sent
    finally:
        await client.close()
        await db.close()


def test_the_next_poll_is_planned_from_when_the_last_one_was_sent(tmp_path: Path) -> None:
    with FakeOpenAI() as oa:
        oa.latency = 10.0  # the run stays in progress
        # Cold planner: the next poll is due 0.25 s after the last was sent. Its answer took
        # 0.4 s, so that time has passed: the next poll is due at once, not 0.25 s later.
        gap = asyncio.run(_gap_to_next_poll(tmp_path, oa, answer_seconds=0.4))
    assert 0.2 <= gap <= 0.35
