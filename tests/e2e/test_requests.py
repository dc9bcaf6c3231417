"""What Slack sends that must not start a run: bad signatures, retries, bots, edits, noise."""

from __future__ import annotations

import json
import time
import urllib.request

from sqlalchemy.engine import Engine

from bot import messages
from tests.e2e.harness import BridgeProcess
from tests.e2e.replies import posts_in, reply_text, settle, stored_messages
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import (
    channel_message_event,
    dm_event,
    event_callback,
    mention_event,
    url_verification,
)


def test_bad_or_stale_signatures_get_401_and_change_nothing(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI, db: Engine
) -> None:
    event = event_callback(dm_event("U1", "forged"))
    assert bridge.send(event, secret="not-the-secret")[0] == 401
    assert bridge.send(event, timestamp=int(time.time()) - 60 * 10)[0] == 401
    assert stored_messages(db) == 0
    settle(bridge, slack)
    assert stored_messages(db) == 1
    assert [c.params["channel"] for c in slack.calls("chat.postMessage")] == ["D0DMU99"]


def test_url_verification_is_answered(bridge: BridgeProcess) -> None:
    status, body = bridge.send(url_verification("abc123"))
    assert status == 200
    assert json.loads(body)["challenge"] == "abc123"


def test_unhandled_event_types_get_200_and_are_ignored(
    bridge: BridgeProcess, slack: FakeSlack, db: Engine
) -> None:
    for event in (
        {"type": "reaction_added", "user": "U1", "reaction": "tada", "event_ts": "1.0"},
        {"type": "team_join", "user": {"id": "U5"}, "event_ts": "1.1"},
        {"type": "app_home_opened", "user": "U1", "channel": "D1", "event_ts": "1.2"},
    ):
        assert bridge.send(event_callback(event))[0] == 200
    settle(bridge, slack)
    assert stored_messages(db) == 1


def test_bots_edits_deletions_and_system_messages_start_no_run(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI, db: Engine
) -> None:
    ignored = [
        dm_event("U1", "from another bot", bot_id="B0OTHER"),
        dm_event("UBOT", "the bridge's own message"),
        dm_event("U1", "x", subtype="message_changed", message={"user": "U1", "text": "edit"}),
        dm_event("U1", "", subtype="message_deleted", deleted_ts="1.0"),
        channel_message_event("U1", "joined", channel="C1", subtype="channel_join"),
        mention_event("U1", "from a bot", channel="C1", bot_id="B0OTHER"),
    ]
    for event in ignored:
        assert bridge.send(event_callback(event))[0] == 200
    settle(bridge, slack)
    assert stored_messages(db) == 1
    assert len(openai.responses_created()) == 1


def test_file_share_and_thread_broadcast_are_user_messages(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    shared = dm_event("U1", "see attached", subtype="file_share")
    bridge.send(event_callback(shared))
    assert reply_text(posts_in(slack, shared["channel"])[0]) == "echo: see attached (turn 1)"
    mention = mention_event("U2", "start", channel="C1")
    bridge.send(event_callback(mention))
    posts_in(slack, "C1")
    broadcast = channel_message_event(
        "U2", "also to channel", channel="C1", thread_ts=mention["ts"], subtype="thread_broadcast"
    )
    bridge.send(event_callback(broadcast))
    assert reply_text(posts_in(slack, "C1", 2)[1]) == "echo: also to channel (turn 2)"


def test_slack_retries_of_an_event_are_processed_once(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI, db: Engine
) -> None:
    payload = event_callback(dm_event("U1", "retried"))
    assert bridge.send(payload)[0] == 200
    for retry in (1, 2, 3):
        started = time.monotonic()
        assert bridge.send(payload, retry_num=retry)[0] == 200
        assert time.monotonic() - started < 1.0
    posts_in(slack, payload["event"]["channel"])
    settle(bridge, slack)
    assert len(slack.posts(payload["event"]["channel"])) == 1
    assert stored_messages(db) == 2


def test_an_empty_mention_gets_a_hint_and_no_run(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI, db: Engine
) -> None:
    event = mention_event("U1", "<@UBOT>", channel="C1")
    assert bridge.send(event_callback(event))[0] == 200
    [hint] = slack.wait_for(lambda: slack.ephemerals("C1"))
    assert hint["user"] == "U1" and "Ask me something" in hint["text"]
    settle(bridge, slack)
    assert slack.posts("C1") == []
    assert stored_messages(db) == 1


def test_malformed_bodies_get_a_4xx_never_a_500(bridge: BridgeProcess, db: Engine) -> None:
    for body, content_type in (
        (b"{not json", "application/json"),
        (b"", "application/json"),
        (b"payload=%7Bbroken", "application/x-www-form-urlencoded"),
    ):
        status, _ = bridge.send_raw(body, content_type=content_type)
        assert 400 <= status < 500, (body, status)
    assert stored_messages(db) == 0


def test_healthz_reports_the_database(bridge: BridgeProcess) -> None:
    with urllib.request.urlopen(bridge.url + "/healthz", timeout=5) as response:
        assert response.status == 200
        assert json.loads(response.read()) == {"status": "ok", "database": "ok"}


def test_a_file_slack_no_longer_has_is_named_and_the_text_is_still_answered(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    # A Slack Connect file comes without its URL, and files.info no longer finds it.
    files = [{"id": "F1", "name": "q3-report.pdf", "file_access": "check_file_info"}]
    with_text = dm_event("U1", "summarise this", subtype="file_share", files=files)
    bridge.send(event_callback(with_text))
    assert reply_text(posts_in(slack, with_text["channel"])[0]) == "echo: summarise this (turn 1)"
    [hint] = slack.wait_for(lambda: slack.ephemerals(with_text["channel"]))
    assert "q3-report.pdf" in hint["text"] and "file_not_found" in hint["text"]
    assert openai.files == []

    only_file = dm_event("U2", "", subtype="file_share", files=files)
    bridge.send(event_callback(only_file))
    [notice] = posts_in(slack, only_file["channel"])
    assert reply_text(notice) == messages.NOTHING_TO_SEND
    assert len(openai.responses_created()) == 1, "nothing was sent for the file alone"


def test_events_missing_fields_are_acked_and_ignored(
    bridge: BridgeProcess, slack: FakeSlack, db: Engine
) -> None:
    for event in (
        {"type": "message", "channel_type": "im", "text": "no user or channel"},
        {"type": "message", "channel_type": "im", "user": "U1", "text": "no channel", "ts": "1.0"},
        {"type": "app_mention", "user": "U1", "text": "<@UBOT> no channel", "ts": "1.1"},
        {"type": "message", "user": "U1", "channel": "C1", "text": "no ts"},
    ):
        status, _ = bridge.send(event_callback(event))
        assert status == 200
    settle(bridge, slack)
    assert stored_messages(db) == 1
