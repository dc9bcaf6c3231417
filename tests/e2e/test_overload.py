"""Overload: a burst beyond what may wait is shed from memory, and still every message is
answered once (the messages wait in the database; the sweep hands them out again)."""

from __future__ import annotations

from tests.e2e.conftest import StartBridge
from tests.e2e.replies import answers, reply_text
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import dm_event, event_callback


def test_a_burst_beyond_the_bound_sheds_work_from_memory_and_every_message_is_answered_once(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    # One step at a time, four waiting; a slow "working" reaction holds the one slot while
    # the burst arrives, so most of the burst's steps find no room.
    bridge = start_bridge(MAX_CONCURRENT_STEPS="1")
    slack.latency["reactions.add"] = 0.5
    users = [f"U{n:02d}" for n in range(6)]
    for user in users:
        bridge.send(event_callback(dm_event(user, f"question from {user}")))

    def all_answered() -> bool:
        return all(answers(slack, f"D0DM{user}") for user in users)

    slack.wait_for(all_answered, timeout=60)
    assert "background work is full" in bridge.log()
    for user in users:
        [answer] = answers(slack, f"D0DM{user}")
        assert reply_text(answer).startswith(f"echo: question from {user}")
