"""Feedback end to end: presses on an answer's buttons reach the real bridge as Slack posts
them, are stored once per person, acknowledged to the presser only, and `assistant-bridge
feedback` reports them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot.slack.feedback import FEEDBACK_ACTION_ID, feedback_blocks
from tests.bot.cli_helpers import run_cli
from tests.e2e.harness import BridgeProcess, wait_for
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import FORM
from tests.fakes.slack_interactions import feedback_press, interactive_form

CHANNEL = "C0CHAN"


def seed_answer(slack: FakeSlack) -> dict[str, Any]:
    """An answer with the feedback buttons, as the bridge posts it in a mention's thread."""
    root = slack.add_message(CHANNEL, "<@UBOT> what is 2+2?", user="U1")
    ts = slack.add_message(
        CHANNEL,
        "4",
        user="UBOT",
        thread_ts=root,
        bot_id="BBOT",
        blocks=[{"type": "markdown", "text": "4"}, *feedback_blocks(turn_id=3, assistant="tutor")],
    )
    [answer] = [m for m in slack.messages(CHANNEL) if m["ts"] == ts]
    return answer


def press(bridge: BridgeProcess, answer: dict[str, Any], which: str, user: str) -> None:
    [buttons] = answer["blocks"][-1]["elements"]
    payload = feedback_press(
        answer,
        channel=CHANNEL,
        value=buttons[f"{which}_button"]["value"],
        user=user,
        action_id=FEEDBACK_ACTION_ID,
    )
    status, _ = bridge.send_raw(interactive_form(payload), content_type=FORM)
    assert status == 200


def test_presses_are_recorded_once_per_person_told_to_the_presser_and_reported(
    bridge: BridgeProcess, slack: FakeSlack, db: Engine, database_url: str, tmp_path: Path
) -> None:
    answer = seed_answer(slack)
    press(bridge, answer, "positive", "U1")
    press(bridge, answer, "positive", "U1")
    press(bridge, answer, "negative", "U2")
    wait_for(lambda: len(slack.ephemerals(CHANNEL)) == 3, what="three acknowledgements")

    with db.connect() as connection:
        rows = connection.execute(
            text("SELECT user_id, vote, assistant, thread_ts FROM feedback ORDER BY user_id")
        ).all()
    assert [tuple(row) for row in rows] == [
        ("U1", "up", "tutor", answer["thread_ts"]),
        ("U2", "down", "tutor", answer["thread_ts"]),
    ]
    assert [(e["user"], e["thread_ts"]) for e in slack.ephemerals(CHANNEL)] == [
        ("U1", answer["thread_ts"]),
        ("U1", answer["thread_ts"]),
        ("U2", answer["thread_ts"]),
    ]
    assert slack.posts(CHANNEL) == [], "nothing for everyone to see"

    report = run_cli("feedback", env=bridge.env, cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert ["tutor", "1", "1"] in [line.split() for line in report.stdout.splitlines()]
    link = (
        f"https://slack.com/archives/{CHANNEL}/p{answer['ts'].replace('.', '')}"
        f"?thread_ts={answer['thread_ts']}&cid={CHANNEL}"
    )
    assert report.stdout.count(link) == 2
