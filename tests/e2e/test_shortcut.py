"""The message shortcut end to end: the real bridge answers in the user's DM, with the message,
its thread and a link back; a retried payload is one turn; an unreadable channel gets a note."""

from __future__ import annotations

import json

from sqlalchemy.engine import Engine

from tests.e2e.conftest import StartBridge
from tests.e2e.harness import BridgeProcess, wait_for
from tests.e2e.replies import posts_in, stored_messages
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import FORM
from tests.fakes.slack_interactions import interactive_form
from tests.handlers.test_shortcuts import CHANNEL, message_action

DM = "D0DMU1"


def test_the_answer_goes_to_the_users_dm_with_the_message_its_thread_and_a_link(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI, db: Engine
) -> None:
    root = slack.add_message(CHANNEL, "Outage in eu-west, who is on call?", user="U2")
    asked = slack.add_message(CHANNEL, "Paging Ana now", user="U3", thread_ts=root)
    payload = message_action(
        slack, {"text": "Paging Ana now", "user": "U3", "ts": asked, "thread_ts": root}
    )
    for _ in range(2):  # Slack retrying the same payload
        status, _ = bridge.send_raw(interactive_form(payload), content_type=FORM)
        assert status == 200

    [answer] = posts_in(slack, DM)
    wait_for(lambda: slack.response_url_posts("ask"), what="the ephemeral note")
    [created] = openai.responses_created()
    sent = json.dumps(created["input"])
    assert "Paging Ana now" in sent and "Outage in eu-west, who is on call?" in sent
    link = f"https://slack.com/archives/{CHANNEL}/p{asked.replace('.', '')}"
    assert link in sent
    assert any(link in str(post.get("text")) for post in slack.posts(DM)), slack.posts(DM)
    assert slack.posts(CHANNEL) == []
    assert stored_messages(db) == 1 and len(openai.responses_created()) == 1
    del answer


def test_a_channel_the_bot_cannot_read_gets_the_invite_note_and_no_turn(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI, db: Engine
) -> None:
    slack.channel_errors[CHANNEL] = "not_in_channel"
    payload = message_action(slack, {"text": "hidden", "user": "U2", "ts": "1700000000.000100"})
    status, _ = bridge.send_raw(interactive_form(payload), content_type=FORM)
    assert status == 200
    [note] = wait_for(lambda: slack.response_url_posts("ask"), what="the invite note")
    assert "/invite" in note["text"] and note["response_type"] == "ephemeral"
    assert stored_messages(db) == 0 and openai.responses_created() == []


def test_with_streaming_the_answer_still_reaches_the_users_dm_once(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    bridge = start_bridge(STREAMING="on")
    asked = slack.add_message(CHANNEL, "What does this error mean?", user="U3")
    payload = message_action(
        slack, {"text": "What does this error mean?", "user": "U3", "ts": asked}
    )
    status, _ = bridge.send_raw(interactive_form(payload), content_type=FORM)
    assert status == 200

    def answered() -> list[str]:
        texts = [slack.visible_text(DM, s.ts) for s in slack.streams(DM) if s.state != "streaming"]
        texts += [str(p.get("text")) for p in slack.posts(DM) if "echo:" in str(p.get("text"))]
        return texts

    [answer] = slack.wait_for(answered, timeout=15)
    assert "echo:" in answer
    assert slack.posts(CHANNEL) == [] and slack.streams(CHANNEL) == []
