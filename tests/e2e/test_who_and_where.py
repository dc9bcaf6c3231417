"""Who is asking and where, labels in shared conversations, and the thread around a mention."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import StartBridge
from tests.e2e.harness import BridgeProcess, wait_for
from tests.e2e.replies import input_texts, posts_in
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import channel_message_event, dm_event, event_callback, mention_event

CHANNEL = "C0GENERAL"
ANA = {
    "tz": "Asia/Tokyo",
    "tz_offset": 32400,
    "profile": {"display_name": "Ana Lima", "title": "Data analyst"},
}


def _created(openai: FakeOpenAI, count: int) -> list[dict[str, object]]:
    return wait_for(
        lambda: created if len(created := openai.responses_created()) >= count else None,
        what=f"{count} responses created",
    )


@pytest.mark.parametrize("streaming", ["off", "on"])
def test_the_askers_name_and_local_time_reach_the_model(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI, streaming: str
) -> None:
    slack.users["U1"] = ANA
    bridge = start_bridge(STREAMING=streaming)
    event = dm_event("U1", "what day is it?")
    assert bridge.send(event_callback(event))[0] == 200

    [created] = _created(openai, 1)  # streamed or posted, the request is the same
    instructions = str(created["instructions"])
    today = datetime.now(ZoneInfo("Asia/Tokyo"))
    assert "The person writing to you is Ana Lima, Data analyst." in instructions
    assert re.search(
        r"Their time zone is Asia/Tokyo; their local date and time is "
        rf"{today:%A}, {today.day} {today:%B %Y}, \d\d:\d\d\. They wrote in a direct message\.",
        instructions,
    ), instructions
    assert input_texts(created) == ["what day is it?"]  # a DM is not labelled


def test_two_users_in_a_channel_conversation_are_labelled(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    slack.users["U1"] = ANA
    root = slack.add_message(CHANNEL, "<@UBOT> what is our Q3 target?", user="U1")
    assert (
        bridge.send(
            event_callback(mention_event("U1", "what is our Q3 target?", channel=CHANNEL, ts=root))
        )[0]
        == 200
    )
    posts_in(slack, CHANNEL)
    follow = slack.add_message(CHANNEL, "what did Ana ask?", user="U2", thread_ts=root)
    event = channel_message_event(
        "U2", "what did Ana ask?", channel=CHANNEL, ts=follow, thread_ts=root
    )
    assert bridge.send(event_callback(event))[0] == 200

    first, second = _created(openai, 2)
    assert input_texts(first) == ["[Ana Lima] what is our Q3 target?"]
    assert input_texts(second) == ["[u2] what did Ana ask?"]
    assert str(first["instructions"]).endswith("They wrote in #chan-c0general.")
    assert str(second["instructions"]).endswith("They wrote in a thread in #chan-c0general.")
    assert "The person writing to you is u2, Engineer." in str(second["instructions"])


def test_a_mention_mid_thread_sends_the_earlier_messages_once(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    slack.users["U1"] = ANA
    root = slack.add_message(CHANNEL, "The launch slipped to May", user="U1")
    slack.add_message(
        CHANNEL,
        "here is the plan",
        user="U1",
        thread_ts=root,
        files=[{"id": "F1", "name": "plan.pdf"}],
    )
    asked = slack.add_message(CHANNEL, "<@UBOT> summarize this", user="U2", thread_ts=root)
    mention = mention_event("U2", "summarize this", channel=CHANNEL, ts=asked, thread_ts=root)
    assert bridge.send(event_callback(mention))[0] == 200
    posts_in(slack, CHANNEL)
    again = slack.add_message(CHANNEL, "<@UBOT> and the risks?", user="U2", thread_ts=root)
    second = mention_event("U2", "and the risks?", channel=CHANNEL, ts=again, thread_ts=root)
    assert bridge.send(event_callback(second))[0] == 200

    first, later = _created(openai, 2)
    assert input_texts(first) == [
        "Earlier messages in this Slack thread, before you were asked (oldest first):\n"
        "[Ana Lima] The launch slipped to May\n"
        "[Ana Lima] here is the plan (files: plan.pdf)",
        "[u2] summarize this",
    ]
    assert input_texts(later) == ["[u2] and the risks?"]  # a bot thread now: nothing again
    assert len(slack.calls("conversations.replies")) == 1


def test_users_info_failing_still_answers_without_the_name(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    slack.fail_next(
        "users.info", error="ratelimited", status=429, headers={"Retry-After": "1"}, times=20
    )
    event = dm_event("U1", "hello?")
    assert bridge.send(event_callback(event))[0] == 200
    posts_in(slack, event["channel"])

    [created] = openai.responses_created()
    assert "The person writing" not in str(created["instructions"])
    assert str(created["instructions"]).endswith("They wrote in a direct message.")
