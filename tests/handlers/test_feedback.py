"""Feedback buttons through the real Bolt app: each press is stored once per person and
answer, the other button changes the vote, and only the presser hears back."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot import messages
from bot.assistants import Assistant, Assistants
from bot.slack.feedback import FEEDBACK_ACTION_ID, feedback_blocks
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_interactions import feedback_press
from tests.handlers.agent_view_app import AgentViewApp, agent_view_app

ASSISTANTS = Assistants(
    by_name={"tutor": Assistant(name="tutor", model="gpt-5-mini")}, default_name="tutor"
)
CHANNEL = "D0DMU1"


async def post_answer(bridge: AgentViewApp, slack: FakeSlack, *, turn_id: int) -> dict[str, Any]:
    """An answer carrying the buttons, posted in a DM thread; the message as Slack keeps it."""
    root = slack.add_message(CHANNEL, "a question", user="U1")
    posted = await bridge.app.client.chat_postMessage(
        channel=CHANNEL,
        thread_ts=root,
        text="the answer",
        blocks=[
            {"type": "markdown", "text": "the answer"},
            *feedback_blocks(turn_id=turn_id, assistant="tutor"),
        ],
    )
    [message] = [m for m in slack.messages(CHANNEL) if m["ts"] == posted["ts"]]
    return message


def button_value(message: dict[str, Any], which: str) -> str:
    [buttons] = message["blocks"][-1]["elements"]
    return str(buttons[f"{which}_button"]["value"])


def press(message: dict[str, Any], which: str, user: str) -> dict[str, Any]:
    return feedback_press(
        message,
        channel=CHANNEL,
        value=button_value(message, which),
        user=user,
        action_id=FEEDBACK_ACTION_ID,
    )


def votes(db: Engine) -> list[tuple[Any, ...]]:
    with db.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT user_id, vote, turn_id, assistant, message_ts, thread_ts FROM feedback"
                " ORDER BY user_id"
            )
        )
        return [tuple(row) for row in rows]


def test_a_vote_is_stored_once_changed_by_the_other_button_and_told_to_the_presser_only(
    slack: FakeSlack, database_url: str, db: Engine
) -> None:
    async def scenario() -> tuple[dict[str, Any], list[list[tuple[Any, ...]]]]:
        async with agent_view_app(slack, database_url, ASSISTANTS) as bridge:
            answer = await post_answer(bridge, slack, turn_id=7)
            after = []
            for which, user in (("positive", "U1"), ("positive", "U1"), ("negative", "U1")):
                assert await bridge.send_payload(press(answer, which, user)) == 200
                after.append(votes(db))
            assert await bridge.send_payload(press(answer, "positive", "U2")) == 200
            await bridge.settle()
            return answer, after

    answer, after = asyncio.run(scenario())
    row = ("U1", "up", 7, "tutor", answer["ts"], answer["thread_ts"])
    assert after == [[row], [row], [(*row[:1], "down", *row[2:])]]
    assert votes(db)[1] == ("U2", "up", 7, "tutor", answer["ts"], answer["thread_ts"])
    acknowledgements = [(e["user"], e["thread_ts"], e["text"]) for e in slack.ephemerals()]
    assert acknowledgements == [
        ("U1", answer["thread_ts"], messages.FEEDBACK_RECORDED.format(vote="👍")),
        ("U1", answer["thread_ts"], messages.FEEDBACK_UNCHANGED.format(vote="👍")),
        ("U1", answer["thread_ts"], messages.FEEDBACK_CHANGED.format(vote="👎")),
        ("U2", answer["thread_ts"], messages.FEEDBACK_RECORDED.format(vote="👍")),
    ]
    assert len(slack.posts(CHANNEL)) == 1, "only the answer: nothing posted for all to see"


def test_a_press_on_an_answer_whose_turn_was_pruned_is_recorded_under_its_assistant(
    slack: FakeSlack, database_url: str, db: Engine
) -> None:
    async def scenario() -> dict[str, Any]:
        async with agent_view_app(slack, database_url, ASSISTANTS) as bridge:
            answer = await post_answer(bridge, slack, turn_id=4242)  # no such turn row
            assert await bridge.send_payload(press(answer, "negative", "U1")) == 200
            await bridge.settle()
            return answer

    answer = asyncio.run(scenario())
    assert votes(db) == [("U1", "down", 4242, "tutor", answer["ts"], answer["thread_ts"])]


def test_a_press_without_our_value_or_its_message_is_ignored_with_200(
    slack: FakeSlack, database_url: str, db: Engine
) -> None:
    async def scenario() -> list[int]:
        async with agent_view_app(slack, database_url, ASSISTANTS) as bridge:
            answer = await post_answer(bridge, slack, turn_id=1)
            foreign = feedback_press(
                answer, channel=CHANNEL, value="positive_feedback", action_id=FEEDBACK_ACTION_ID
            )
            no_message = {**press(answer, "positive", "U1"), "container": {}, "message": None}
            return [await bridge.send_payload(p) for p in (foreign, no_message)]

    assert asyncio.run(scenario()) == [200, 200]
    assert votes(db) == []
    assert slack.ephemerals() == []
