"""Slack's agent view, end to end: DM_SCOPE=thread."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot import messages
from tests.e2e.conftest import StartBridge
from tests.e2e.harness import BridgeProcess
from tests.e2e.replies import posts_in, reply_text
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import dm_event, event_callback, slash_command_form

TWO_ASSISTANTS = """\
default = "tutor"

[assistants.tutor]
model = "gpt-5-mini"
description = "Math tutor"

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
