"""Acks do not wait on Slack's Web API: auth.test is asked once, at start, in the background."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.engine import Engine

from tests.e2e.conftest import StartBridge
from tests.e2e.harness import BridgeProcess, free_port, wait_for
from tests.e2e.replies import posts_in, reply_text, stored_messages
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import (
    FORM,
    dm_event,
    event_callback,
    mention_event,
    slash_command_form,
)

T = TypeVar("T")


def _timed(call: Callable[[], T]) -> tuple[T, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def test_events_are_stored_and_acked_at_once_while_slacks_api_is_unreachable(
    start_bridge: StartBridge, slack: FakeSlack, db: Engine
) -> None:
    slack.drop_next("auth.test", times=10_000)  # every auth.test: the connection closes
    bridge = start_bridge()
    mention = mention_event("U1", "what is up", channel="C1")
    own = dm_event("UBOT", "the bridge's own message")
    direct = dm_event("U2", "hello")
    for event in (mention, own, direct):
        (status, _), took = _timed(lambda: bridge.send(event_callback(event)))  # noqa: B023
        assert status == 200 and took < 1.0, (event["text"], status, took)
    assert stored_messages(db) == 2, "the mention and the DM; not the bridge's own message"
    # The bot's user id came from the events' `authorizations`: the mention was stripped.
    assert reply_text(posts_in(slack, "C1")[0]) == "echo: what is up (turn 1)"
    posts_in(slack, direct["channel"])

    slack.clear_faults()
    wait_for(lambda: "auth.test answered" in bridge.log(), timeout=60, what="auth.test retried")
    asked = len(slack.calls("auth.test"))
    later = dm_event("U3", "after Slack is back")
    assert bridge.send(event_callback(later))[0] == 200
    posts_in(slack, later["channel"])
    assert len(slack.calls("auth.test")) == asked, "cached: not asked again per request"


def test_auth_test_is_asked_once_at_start_not_on_requests(
    bridge: BridgeProcess, slack: FakeSlack
) -> None:
    wait_for(lambda: slack.calls("auth.test"), timeout=10, what="auth.test at start")
    for user in ("U1", "U2", "U3"):
        event = dm_event(user, "hi")
        assert bridge.send(event_callback(event))[0] == 200
        posts_in(slack, event["channel"])
    assert len(slack.calls("auth.test")) == 1


def test_assistant_list_is_acked_in_time_while_conversations_info_hangs(
    bridge: BridgeProcess, slack: FakeSlack
) -> None:
    slack.hold_answer_next("conversations.info", seconds=8)
    (status, body), took = _timed(
        lambda: bridge.send_raw(slash_command_form("/assistant", "list"), content_type=FORM)
    )
    assert status == 200 and took < 2.5, (status, took)
    answer = json.loads(body)
    assert answer["response_type"] == "ephemeral"
    assert "_(answers here)_" in answer["text"], answer
    assert "not in this channel" not in answer["text"], "no hint Slack could not confirm"


def test_with_slacks_api_down_a_dm_is_stored_and_nothing_fails_loudly(
    start_bridge: StartBridge, openai: FakeOpenAI, db: Engine
) -> None:
    # Nothing listens at this port: every Web API call fails on the connection. The
    # cosmetic calls (the "working" reaction) are logged, not raised; the reply waits.
    bridge = start_bridge(SLACK_API_URL=f"http://127.0.0.1:{free_port()}/api/")
    event = dm_event("U1", "is anyone there?")
    (status, _), took = _timed(lambda: bridge.send(event_callback(event)))
    assert status == 200 and took < 1.0, (status, took)
    assert stored_messages(db) == 1
    openai.wait_for(lambda: openai.responses_created())
    wait_for(
        lambda: "retrying at" in bridge.log() and "reaction on" in bridge.log(),
        timeout=20,
        what="the reply to be postponed and the reaction's failure logged",
    )
    assert "background task" not in bridge.log(), bridge.log()
