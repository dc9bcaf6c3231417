"""Slack's Stop button through the real Bolt app: `agent_session_stopped` hands each
unfinished turn of the presser to `on_stop`, marked `stop_requested`, and nothing else."""

from __future__ import annotations

import asyncio

from sqlalchemy.engine import Engine

from bot.assistants import Assistant, Assistants
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import agent_session_stopped_event
from tests.handlers.agent_view_app import agent_view_app
from tests.stop_rows import stop_requested, turn_over

ASSISTANTS = Assistants(
    by_name={"tutor": Assistant(name="tutor", model="gpt-5-mini")}, default_name="tutor"
)


def test_stop_hands_on_only_the_presser_s_unfinished_turn(
    slack: FakeSlack, database_url: str, db: Engine
) -> None:
    async def scenario() -> tuple[dict[str, int], list[list[int]]]:
        async with agent_view_app(slack, database_url, ASSISTANTS) as bridge:
            streaming = await turn_over(
                bridge.db,
                key="channel:T0TEST/C1",
                channel="C1",
                asked=[("U1", "100.1")],
                thread_ts="100.0",
                stream_ts="100.5",
            )
            finished = await turn_over(
                bridge.db,
                key="channel:T0TEST/C2",
                channel="C2",
                asked=[("U1", "200.1")],
                thread_ts="200.0",
                stream_ts="200.5",
                done=True,
            )
            handed: list[list[int]] = []
            for event in (
                agent_session_stopped_event(
                    "U2", channel="C1", thread_ts="100.0", streaming_message_ts=["100.5"]
                ),
                agent_session_stopped_event(
                    "U1", channel="C2", thread_ts="200.0", streaming_message_ts=["200.5"]
                ),
                agent_session_stopped_event(
                    "U1", channel="C1", thread_ts="100.0", streaming_message_ts=["999.9"]
                ),
                agent_session_stopped_event(
                    "U1", channel="C1", thread_ts="100.0", streaming_message_ts=["100.5"]
                ),
            ):
                assert await bridge.send_event(event) == 200
                handed.append(list(bridge.stopped))
            return {"streaming": streaming, "finished": finished}, handed

    turns, handed = asyncio.run(scenario())
    # Someone else's stop, a finished turn's, an unknown stream's: nothing; then the asker's.
    assert handed == [[], [], [], [turns["streaming"]]]
    assert stop_requested(db) == {turns["streaming"]: True, turns["finished"]: False}


def test_a_stop_naming_no_stream_finds_the_turn_answering_in_its_thread(
    slack: FakeSlack, database_url: str, db: Engine
) -> None:
    async def scenario() -> tuple[int, list[int]]:
        async with agent_view_app(slack, database_url, ASSISTANTS) as bridge:
            # Two people's messages went into the turn: either of them asked.
            turn_id = await turn_over(
                bridge.db,
                key="channel:T0TEST/C3",
                channel="C3",
                asked=[("U1", "300.1"), ("U3", "300.2")],
                thread_ts="300.0",
            )
            elsewhere = agent_session_stopped_event("U3", channel="C3", thread_ts="301.0")
            here = agent_session_stopped_event("U3", channel="C3", thread_ts="300.0")
            for event in (elsewhere, here):
                assert await bridge.send_event(event) == 200
            return turn_id, list(bridge.stopped)

    turn_id, stopped = asyncio.run(scenario())
    assert stopped == [turn_id]
    assert stop_requested(db) == {turn_id: True}
