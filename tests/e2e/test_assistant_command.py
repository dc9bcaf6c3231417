"""`/assistant` with an assistants file: list, switch per DM and per channel, resume, reset."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import StartBridge
from tests.e2e.harness import BridgeProcess
from tests.e2e.replies import posts_in, reply_text
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import (
    dm_event,
    event_callback,
    mention_event,
    slash_command_form,
)

ASSISTANTS = """\
default = "tutor"

[assistants.tutor]
model = "gpt-5-mini"
instructions = "You are a personal math tutor."
description = "Math tutor"

[assistants.editor]
model = "gpt-4.1"
instructions = "You are a copy editor."
temperature = 0.2
description = "Copy editor"

[assistants.legacy]
id = "asst_legacy123"
description = "Our old assistant"
"""


@pytest.fixture
def bridge(start_bridge: StartBridge, openai: FakeOpenAI, tmp_path: Path) -> BridgeProcess:
    (tmp_path / "assistants.toml").write_text(ASSISTANTS)
    openai.add_assistant("asst_legacy123", model="gpt-4o", instructions="Be terse.")
    return start_bridge(ADMIN_USER_IDS="UADMIN")


def command(bridge: BridgeProcess, text: str, *, user: str = "U1", channel: str = "D0DMU1") -> str:
    status, body = bridge.send_raw(
        slash_command_form("/assistant", text, user_id=user, channel_id=channel),
        content_type="application/x-www-form-urlencoded",
    )
    assert status == 200, body
    answer: dict[str, Any] = json.loads(body)
    assert answer.get("response_type") == "ephemeral"
    return str(answer["text"])


def ask(bridge: BridgeProcess, slack: FakeSlack, user: str, text: str, count: int) -> str:
    event = dm_event(user, text)
    bridge.send(event_callback(event))
    return reply_text(posts_in(slack, event["channel"], count)[count - 1])


def test_list_shows_every_assistant_and_marks_the_current_one(bridge: BridgeProcess) -> None:
    listed = command(bridge, "list")
    assert "*tutor* — Math tutor _(answers here)_" in listed
    assert "*editor* — Copy editor" in listed and "*legacy* — Our old assistant" in listed
    assert "answers here" not in listed.split("*editor*")[1].split("\n")[0]
    assert "*tutor* answers in your DMs (the default)" in command(bridge, "current")
    assert "/assistant use NAME" in command(bridge, "help")
    assert "/assistant use NAME" in command(bridge, "what is this")


def test_use_switches_the_dm_and_switching_back_resumes_the_first_conversation(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    assert ask(bridge, slack, "U1", "hi tutor", 1) == "echo: hi tutor (turn 1)"
    assert "Now using *editor* in your DMs" in command(bridge, "use editor")
    assert "since" in command(bridge, "current")
    assert ask(bridge, slack, "U1", "fix my prose", 2) == "echo: fix my prose (turn 1)"
    assert "Now using *tutor*" in command(bridge, "use tutor")
    assert ask(bridge, slack, "U1", "back to maths", 3) == "echo: back to maths (turn 2)"

    tutor_1, editor_1, tutor_2 = openai.responses_created()
    # The assistant's own instructions come first; the turn's (who asks, where) follow.
    instructions = str(editor_1["instructions"]).split("\n\n")[0]
    assert (editor_1["model"], instructions, editor_1["temperature"]) == (
        "gpt-4.1",
        "You are a copy editor.",
        0.2,
    )
    assert tutor_1["model"] == tutor_2["model"] == "gpt-5-mini"
    assert tutor_1["conversation"] == tutor_2["conversation"] != editor_1["conversation"]

    assert "Now using *legacy*" in command(bridge, "use legacy")
    assert ask(bridge, slack, "U1", "old friend", 4) == "echo: old friend (turn 1)"
    assert [run["assistant_id"] for run in openai.runs_created()] == ["asst_legacy123"]


def test_a_users_choice_is_their_own(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    command(bridge, "use editor", user="U1", channel="D0DMU1")
    ask(bridge, slack, "U2", "who answers me?", 1)
    assert openai.responses_created()[0]["model"] == "gpt-5-mini"


def test_reset_starts_a_fresh_conversation(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    assert "nothing to reset" in command(bridge, "reset")
    ask(bridge, slack, "U1", "first", 1)
    assert ask(bridge, slack, "U1", "second", 2) == "echo: second (turn 2)"
    assert "Started a fresh conversation with *tutor*" in command(bridge, "reset")
    assert ask(bridge, slack, "U1", "after reset", 3) == "echo: after reset (turn 1)"
    first, second, third = (b["conversation"] for b in openai.responses_created())
    assert first == second != third


def test_unknown_names_get_the_valid_ones(bridge: BridgeProcess) -> None:
    answer = command(bridge, "use poet")
    assert "no assistant called *poet*" in answer
    assert "`editor`, `legacy`, `tutor`" in answer


def test_only_admins_switch_a_channel_when_admins_are_set(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    assert command(bridge, "use editor", user="U1", channel="C1") == (
        "Only the workspace's bridge admins can change the assistant of a channel."
    )
    assert "Now using *editor* in this channel" in command(
        bridge, "use editor", user="UADMIN", channel="C1"
    )
    bridge.send(event_callback(mention_event("U1", "channel question", channel="C1")))
    posts_in(slack, "C1")
    assert openai.responses_created()[0]["model"] == "gpt-4.1"
    # In a DM anyone decides for themselves.
    assert "Now using *editor*" in command(bridge, "use editor", user="U1")


def test_a_command_where_the_bot_is_not_a_member_explains_how_to_invite_it(
    bridge: BridgeProcess, slack: FakeSlack
) -> None:
    slack.channel_errors["G9"] = "channel_not_found"
    answer = command(bridge, "list", channel="G9")
    assert "*tutor*" in answer
    assert "invite me with `/invite`" in answer


def test_a_switch_during_a_running_turn_keeps_that_turns_reply(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    openai.latency = 1.5
    event = dm_event("U1", "slow answer")
    bridge.send(event_callback(event))
    openai.wait_for(lambda: openai.responses_created())
    command(bridge, "use editor")
    command(bridge, "reset")
    [post] = posts_in(slack, event["channel"])
    assert reply_text(post) == "echo: slow answer (turn 1)"
