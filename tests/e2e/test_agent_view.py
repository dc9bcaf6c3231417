"""Slack's agent view, end to end: DM_SCOPE=thread, suggested prompts, thread titles, Stop."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot import messages
from tests.e2e.conftest import StartBridge
from tests.e2e.harness import BridgeProcess, wait_for
from tests.e2e.replies import posts_in, reply_text
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import (
    agent_session_stopped_event,
    app_home_opened_event,
    dm_event,
    event_callback,
    slash_command_form,
)

TWO_ASSISTANTS = """\
default = "tutor"

[assistants.tutor]
model = "gpt-5-mini"
description = "Math tutor"
prompts = [{ title = "Solve an equation", message = "Solve 3x + 11 = 14." }]

[assistants.editor]
model = "gpt-4.1"
description = "Copy editor"
"""


def command(bridge: BridgeProcess, text: str, *, user: str = "U1") -> str:
    status, body = bridge.send_raw(
        slash_command_form("/assistant", text, user_id=user, channel_id=f"D0DM{user}"),
        content_type="application/x-www-form-urlencoded",
    )
    assert status == 200, body
    return str(json.loads(body)["text"])


def test_dm_scope_thread_gives_each_top_level_dm_a_conversation_and_a_reply_continues_it(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI, db: Engine
) -> None:
    bridge = start_bridge(DM_SCOPE="thread")
    first = dm_event("U1", "plan the trip")
    bridge.send(event_callback(first))
    channel = first["channel"]
    posts_in(slack, channel, 1)
    second = dm_event("U1", "a new topic")
    bridge.send(event_callback(second))
    posts_in(slack, channel, 2)
    follow_up = dm_event("U1", "and the hotel?", thread_ts=first["ts"])
    bridge.send(event_callback(follow_up))
    answers = posts_in(slack, channel, 3)

    assert [(reply_text(a), a.get("thread_ts")) for a in answers] == [
        ("echo: plan the trip (turn 1)", first["ts"]),
        ("echo: a new topic (turn 1)", second["ts"]),
        ("echo: and the hotel? (turn 2)", first["ts"]),
    ]
    with db.connect() as connection:
        keys = connection.execute(text("SELECT key FROM conversation ORDER BY id")).scalars()
        turn_keys = connection.execute(text("SELECT key FROM turn ORDER BY id")).scalars().all()
        assert list(keys) == [f"dm:T0TEST/U1/{first['ts']}", f"dm:T0TEST/U1/{second['ts']}"]
    assert turn_keys == [
        f"dm:T0TEST/U1/{first['ts']}",
        f"dm:T0TEST/U1/{second['ts']}",
        f"dm:T0TEST/U1/{first['ts']}",
    ]
    conversations = [body["conversation"] for body in openai.responses_created()]
    assert conversations[0] == conversations[2] != conversations[1]


def test_dm_scope_thread_threads_follow_the_users_choice_and_reset_points_to_a_new_message(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI, tmp_path: Path
) -> None:
    (tmp_path / "assistants.toml").write_text(TWO_ASSISTANTS)
    bridge = start_bridge(DM_SCOPE="thread")
    before = dm_event("U1", "with the tutor")
    bridge.send(event_callback(before))
    posts_in(slack, before["channel"], 1)

    assert "*editor*" in command(bridge, "use editor")
    after = dm_event("U1", "with the editor")
    bridge.send(event_callback(after))
    posts_in(slack, after["channel"], 2)
    older_thread = dm_event("U1", "here too", thread_ts=before["ts"])
    bridge.send(event_callback(older_thread))
    posts_in(slack, after["channel"], 3)

    assert [body["model"] for body in openai.responses_created()] == [
        "gpt-5-mini",
        "gpt-4.1",
        "gpt-4.1",
    ]
    assert command(bridge, "reset") == messages.RESET_DM_THREAD_SCOPE


def test_opening_the_messages_tab_sets_the_prompts_of_the_assistant_in_use(
    start_bridge: StartBridge, slack: FakeSlack, tmp_path: Path
) -> None:
    (tmp_path / "assistants.toml").write_text(TWO_ASSISTANTS)
    bridge = start_bridge()
    assert bridge.send(event_callback(app_home_opened_event("U1")))[0] == 200
    [tutor] = wait_for(lambda: slack.suggested_prompts("D0DMU1"), what="prompts")
    assert tutor["prompts"] == [{"title": "Solve an equation", "message": "Solve 3x + 11 = 14."}]
    assert "thread_ts" not in tutor

    command(bridge, "use editor")
    bridge.send(event_callback(app_home_opened_event("U1")))
    calls = wait_for(lambda: slack.suggested_prompts("D0DMU1")[1:], what="the editor's prompts")
    # The editor names none: the defaults, as the manifest's agent_view.suggested_prompts.
    assert [p["title"] for p in calls[0]["prompts"]] == ["What can you do?", "Draft a message"]


def test_a_new_dm_gets_its_threads_title_and_its_answer_as_before(
    bridge: BridgeProcess, slack: FakeSlack
) -> None:
    event = dm_event("U1", "<@UBOT> How do I *rotate* the API keys?")
    bridge.send(event_callback(event))
    [answer] = posts_in(slack, event["channel"])
    assert "thread_ts" not in answer  # DM_SCOPE=user: the answer goes where it always did
    sessions = wait_for(slack.sessions, what="the thread's session")
    assert sessions[(event["channel"], event["ts"])]["title"] == "How do I rotate the API keys?"


def test_a_stop_for_a_thread_with_nothing_running_reaches_the_bridge_and_changes_nothing(
    bridge: BridgeProcess, slack: FakeSlack, db: Engine
) -> None:
    event = dm_event("U1", "hello")
    bridge.send(event_callback(event))
    posts_in(slack, event["channel"])
    stop = agent_session_stopped_event("U1", channel=event["channel"], thread_ts=event["ts"])
    assert bridge.send(event_callback(stop))[0] == 200
    wait_for(lambda: "found no unfinished turn" in bridge.log(), what="the Stop's log line")
    with db.connect() as connection:
        flags = connection.execute(text("SELECT stop_requested FROM turn")).scalars().all()
    assert [bool(flag) for flag in flags] == [False]
