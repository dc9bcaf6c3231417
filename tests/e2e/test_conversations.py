"""The main path: a DM or a mention becomes a persistent conversation; the reply comes back."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.e2e.conftest import StartBridge
from tests.e2e.harness import BridgeProcess
from tests.e2e.replies import input_texts, posts_in, reply_text
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import (
    channel_message_event,
    dm_event,
    event_callback,
    mention_event,
)


def test_dm_gets_the_assistants_reply_in_the_dm(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI, db: Engine
) -> None:
    event = dm_event("U1", "What is 3x + 11 = 14?")
    status, _ = bridge.send(event_callback(event))
    assert status == 200

    [post] = posts_in(slack, event["channel"])
    assert reply_text(post) == "echo: What is 3x + 11 = 14? (turn 1)"
    assert "thread_ts" not in post
    [created] = openai.responses_created()
    assert created["background"] is True and created["store"] is True
    assert created["model"] == "gpt-5-mini" and created["instructions"]
    assert input_texts(created) == ["What is 3x + 11 = 14?"]
    [conversation] = openai.calls("POST", r"^/v1/conversations$")
    with db.connect() as connection:
        rows = connection.execute(text("SELECT key, openai_id FROM conversation")).all()
        turn = connection.execute(text("SELECT status, outcome, polls FROM turn")).one()
    assert rows == [("user:T0TEST/U1", created["conversation"])]
    assert (turn.status, turn.outcome) == ("done", "completed")
    del conversation


def test_a_later_dm_continues_the_same_conversation_and_two_users_have_their_own(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    first = dm_event("U1", "remember: blue")
    bridge.send(event_callback(first))
    posts_in(slack, first["channel"])
    second = dm_event("U1", "what colour?")
    bridge.send(event_callback(second))
    assert reply_text(posts_in(slack, second["channel"], 2)[1]) == "echo: what colour? (turn 2)"

    other = dm_event("U2", "hello")
    bridge.send(event_callback(other))
    assert reply_text(posts_in(slack, other["channel"])[0]) == "echo: hello (turn 1)"

    conversations = [body["conversation"] for body in openai.responses_created()]
    assert conversations[0] == conversations[1] != conversations[2]
    assert len(openai.calls("POST", r"^/v1/conversations$")) == 2


def test_the_conversation_survives_a_restart(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    bridge = start_bridge()
    first = dm_event("U1", "day one")
    bridge.send(event_callback(first))
    posts_in(slack, first["channel"])
    assert bridge.stop() == 0

    again = start_bridge()
    later = dm_event("U1", "days later")
    again.send(event_callback(later))
    assert reply_text(posts_in(slack, later["channel"], 2)[1]) == "echo: days later (turn 2)"


def test_dm_sent_in_a_thread_is_answered_in_that_thread(
    bridge: BridgeProcess, slack: FakeSlack
) -> None:
    event = dm_event("U1", "in a thread", thread_ts="1700000000.000001")
    bridge.send(event_callback(event))
    [post] = posts_in(slack, event["channel"])
    assert post["thread_ts"] == "1700000000.000001"


def test_mention_is_answered_in_its_thread_without_the_mention(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    event = mention_event("U1", "<@UBOT> summarise the plan", channel="C1")
    bridge.send(event_callback(event))
    [post] = posts_in(slack, "C1")
    assert post["thread_ts"] == event["ts"]
    assert reply_text(post) == "echo: summarise the plan (turn 1)"
    # A channel's conversation is shared: each message is labelled with its author.
    assert input_texts(openai.responses_created()[0]) == ["[u1] summarise the plan"]


def test_follow_up_in_a_bot_thread_needs_no_mention_and_other_messages_are_ignored(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    mention = mention_event("U1", "start", channel="C1")
    bridge.send(event_callback(mention))
    posts_in(slack, "C1")

    elsewhere = channel_message_event("U2", "unrelated chatter", channel="C1")
    other_thread = channel_message_event(
        "U2", "not our thread", channel="C1", thread_ts="1600000000.000001"
    )
    follow_up = channel_message_event("U2", "and then?", channel="C1", thread_ts=mention["ts"])
    for event in (elsewhere, other_thread, follow_up):
        assert bridge.send(event_callback(event))[0] == 200
    second = posts_in(slack, "C1", 2)[1]
    assert second["thread_ts"] == mention["ts"]
    assert reply_text(second) == "echo: and then? (turn 2)"
    assert [input_texts(b) for b in openai.responses_created()] == [
        ["[u1] start"],
        ["[u2] and then?"],
    ]


def test_mention_delivered_also_as_channel_message_is_answered_once(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    mention = mention_event("U1", "once please", channel="C1")
    as_message = channel_message_event("U1", mention["text"], channel="C1", ts=mention["ts"])
    bridge.send(event_callback(as_message))
    bridge.send(event_callback(mention))
    posts_in(slack, "C1")
    later = dm_event("U9", "sentinel")
    bridge.send(event_callback(later))
    posts_in(slack, later["channel"])
    assert len(slack.posts("C1")) == 1
    assert len(openai.responses_created()) == 2


def test_a_mention_delivered_twice_gets_one_hint_for_what_it_leaves_out(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    zipped = slack.add_file("F0ZIP", "archive.zip", b"PK\x03\x04", "application/zip")
    cases: list[tuple[str, dict[str, Any]]] = [
        ("", {}),
        ("read this", {"subtype": "file_share", "files": [zipped]}),
    ]
    for words, extra in cases:
        mention = mention_event("U1", words, channel="C1", **extra)
        twin = channel_message_event("U1", mention["text"], channel="C1", ts=mention["ts"], **extra)
        bridge.send(event_callback(twin))
        bridge.send(event_callback(mention))
    posts_in(slack, "C1")  # the file's message was answered
    later = dm_event("U9", "sentinel")
    bridge.send(event_callback(later))
    posts_in(slack, later["channel"])
    hints = [e["text"] for e in slack.ephemerals("C1")]
    assert len(hints) == 2, hints
    assert "Ask me something" in hints[0] and "archive.zip" in hints[1]


def test_channel_scope_thread_gives_each_slack_thread_its_own_conversation(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    bridge = start_bridge(CHANNEL_SCOPE="thread")
    one = mention_event("U1", "first thread", channel="C1")
    two = mention_event("U1", "second thread", channel="C1")
    bridge.send(event_callback(one))
    posts_in(slack, "C1")
    bridge.send(event_callback(two))
    replies = posts_in(slack, "C1", 2)
    assert [reply_text(p) for p in replies] == [
        "echo: first thread (turn 1)",
        "echo: second thread (turn 1)",
    ]
    first_conv, second_conv = (b["conversation"] for b in openai.responses_created())
    assert first_conv != second_conv


def test_channel_scope_channel_shares_one_conversation_across_threads(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    one = mention_event("U1", "first", channel="C1")
    two = mention_event("U2", "second", channel="C1")
    bridge.send(event_callback(one))
    posts_in(slack, "C1")
    bridge.send(event_callback(two))
    replies = posts_in(slack, "C1", 2)
    assert reply_text(replies[1]) == "echo: second (turn 2)"
    assert replies[1]["thread_ts"] == two["ts"]


def test_working_reaction_shows_then_clears(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    openai.latency = 1.5
    event = dm_event("U1", "slow one")
    bridge.send(event_callback(event))
    channel, ts = event["channel"], event["ts"]
    slack.wait_for(lambda: "hourglass_flowing_sand" in slack.reactions(channel, ts), timeout=1)
    assert slack.posts(channel) == []
    posts_in(slack, channel)
    slack.wait_for(lambda: not slack.reactions(channel, ts))
