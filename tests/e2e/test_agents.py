"""Saved agents (the Agents API) in Slack, end to end: one durable session per conversation,
a turn per message burst, functions through required actions, restarts and lost answers
that never start a second turn, Stop, failures, artifacts uploaded, streamed answers."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot import messages
from tests.e2e.conftest import StartBridge
from tests.e2e.harness import BridgeProcess
from tests.e2e.replies import answers, posts_in, reply_text
from tests.fakes.openai_api import FakeOpenAI, ReplyContext
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import dm_event, event_callback, mention_event

FUNCTIONS = "tests.e2e.tool_functions"
EVENTS = r"^/v1/agents/sessions/[^/]+/events$"


def echo(context: ReplyContext) -> str:
    # The per-turn context (who asks, when, where) leads the input as a bracketed part.
    said = [t for t in context.user_texts if not t.startswith("[The person writing")]
    outputs = f" [{' | '.join(context.tool_outputs)}]" if context.tool_outputs else ""
    return "agent: " + " / ".join(said) + outputs


@pytest.fixture
def agent_id(openai: FakeOpenAI, tmp_path: Path) -> str:
    agent = openai.add_agent(model="gpt-5-mini", instructions="Work carefully.")
    (tmp_path / "assistants.toml").write_text(
        f"""\
default = "worker"

[assistants.worker]
agent = "{agent["id"]}"
description = "Does work"
functions = ["{FUNCTIONS}:add"]

[assistants.chat]
model = "gpt-5-mini"
"""
    )
    openai.responder = echo
    return str(agent["id"])


def sessions(openai: FakeOpenAI) -> list[dict[str, object]]:
    return openai.agent_sessions()


def turns_of(openai: FakeOpenAI) -> list[dict[str, object]]:
    """The turns of the first session (the one a test's first DM opened)."""
    first = sessions(openai)[0]
    return openai.agent_turns(str(first["id"]))


def turn_rows(db: Engine) -> list[tuple[str, str | None, str | None]]:
    with db.connect() as connection:
        rows = connection.execute(text("SELECT status, outcome, run_id FROM turn ORDER BY id"))
        return [(r.status, r.outcome, r.run_id) for r in rows]


def settle(bridge: BridgeProcess, slack: FakeSlack) -> None:
    """Answer a sentinel DM: whatever was to be posted before has been posted."""
    sentinel = dm_event("U99", "sentinel")
    bridge.send(event_callback(sentinel))
    posts_in(slack, sentinel["channel"])


def test_a_dm_opens_a_session_and_the_next_dm_continues_it(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI, agent_id: str, db: Engine
) -> None:
    bridge = start_bridge()
    first = dm_event("U1", "hello agent")
    bridge.send(event_callback(first))
    [post] = posts_in(slack, first["channel"])
    assert reply_text(post) == "agent: hello agent"
    second = dm_event("U1", "remember me?")
    bridge.send(event_callback(second))
    assert reply_text(posts_in(slack, first["channel"], 2)[1]) == "agent: remember me?"

    [session] = sessions(openai)
    assert session["request"]["agent_id"] == agent_id  # type: ignore[index]
    assert session["request"]["environment"] == {"type": "none"}  # type: ignore[index]
    assert len(openai.agent_turns(str(session["id"]))) == 2
    with db.connect() as connection:
        [row] = connection.execute(text("SELECT openai_id, backend FROM conversation")).all()
    assert (row.openai_id, row.backend) == (session["id"], "agents")
    assert openai.responses_created() == [], "nothing went to the Responses API"
    # Every input carried an idempotency key, derived from the turn.
    keys = [p.idempotency_key for p in openai.agent_event_posts()]
    assert keys and all(key and "assistant-bridge-turn-" in key for key in keys)
    # Each turn's usage is on record, as the API reported it, under the turn's id.
    with db.connect() as connection:
        usage = connection.execute(
            text("SELECT run_id, backend, model, input_tokens, output_tokens FROM usage_record")
        ).all()
    turns = openai.agent_turns(str(session["id"]))
    assert sorted(u.run_id for u in usage) == sorted(str(t["id"]) for t in turns)
    for row, turn in zip(sorted(usage), sorted(turns, key=lambda t: str(t["id"])), strict=True):
        reported = turn["usage"]
        assert (row.backend, row.model) == ("agents", "gpt-5-mini")
        assert (row.input_tokens, row.output_tokens) == (
            reported["input_tokens"],
            reported["output_tokens"],
        )


def test_each_conversation_key_has_its_own_session_and_switching_keeps_them(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI, agent_id: str
) -> None:
    bridge = start_bridge()
    dm = dm_event("U1", "in my DM")
    bridge.send(event_callback(dm))
    posts_in(slack, dm["channel"])
    mention = mention_event("U2", "in the channel", channel="C1")
    bridge.send(event_callback(mention))
    posts_in(slack, "C1")
    assert len(sessions(openai)) == 2, "one session per DM and per channel"


def test_a_function_call_round_trips_through_required_actions(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI, agent_id: str
) -> None:
    bridge = start_bridge()
    openai.function_calls_next = [{"name": "add", "arguments": '{"a": 2, "b": 40}'}]
    event = dm_event("U1", "add them")
    bridge.send(event_callback(event))
    [post] = posts_in(slack, event["channel"])
    assert reply_text(post) == "agent: add them [42]"
    [session] = sessions(openai)
    # The saved agent has no `add`: the session got it as a function tool.
    tools = session["request"]["agent"]["tools"]  # type: ignore[index]
    assert [t["name"] for t in tools if t["type"] == "function"] == ["add"]
    [result] = [p for p in openai.agent_event_posts() if "tool_result" in p.events[0]["type"]]
    assert result.events[0]["success"] is True and result.events[0]["output"] == "42"
    assert len(turns_of(openai)) == 1, "the function result went on the same turn"


def test_messages_during_a_running_turn_are_answered_once_in_the_next_turn(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI, agent_id: str
) -> None:
    openai.latency = 1.5
    bridge = start_bridge()
    first = dm_event("U1", "first")
    bridge.send(event_callback(first))
    openai.wait_for(lambda: sessions(openai))
    burst = [dm_event("U1", f"more {i}") for i in range(2)]
    for event in burst:
        assert bridge.send(event_callback(event))[0] == 200
    posts = posts_in(slack, first["channel"], 2)
    assert [reply_text(p) for p in posts] == ["agent: first", "agent: more 0 / more 1"]
    settle(bridge, slack)
    assert len(slack.posts(first["channel"])) == 2
    assert all(p.steered_turn_id is None for p in openai.agent_event_posts()), "never steered"


def test_a_restart_mid_turn_delivers_the_answer_once(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI, agent_id: str, db: Engine
) -> None:
    openai.latency = 3.0
    first = start_bridge()
    event = dm_event("U1", "survive a restart")
    first.send(event_callback(event))
    openai.wait_for(lambda: any(row[2] for row in turn_rows(db)), timeout=10)
    first.kill()

    second = start_bridge()
    [post] = posts_in(slack, event["channel"])
    assert reply_text(post) == "agent: survive a restart"
    settle(second, slack)
    assert len(slack.posts(event["channel"])) == 1
    assert len(turns_of(openai)) == 1


def test_a_crash_between_sending_the_input_and_recording_it_starts_no_second_turn(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI, agent_id: str, db: Engine
) -> None:
    bridge = start_bridge()
    warm = dm_event("U1", "open the session")
    bridge.send(event_callback(warm))
    posts_in(slack, warm["channel"])
    bridge.kill()

    openai.hold_answer_next("POST", EVENTS, seconds=30)
    first = start_bridge()
    event = dm_event("U1", "sent, never recorded", channel=warm["channel"])
    first.send(event_callback(event))
    openai.wait_for(lambda: len(turns_of(openai)) == 2)
    first.kill()  # the input took effect at OpenAI; its answer never reached the bridge
    assert turn_rows(db)[-1][2] is None

    second = start_bridge()
    posts = posts_in(slack, warm["channel"], 2)
    assert reply_text(posts[1]) == "agent: sent, never recorded"
    settle(second, slack)
    assert len(slack.posts(warm["channel"])) == 2
    assert len(turns_of(openai)) == 2, "the turn was adopted, not started again"


def test_a_lost_answer_to_the_session_create_is_found_by_its_metadata(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI, agent_id: str
) -> None:
    openai.lose_answer_next("POST", r"^/v1/agents/sessions$")
    bridge = start_bridge()
    event = dm_event("U1", "first words")
    bridge.send(event_callback(event))
    [post] = posts_in(slack, event["channel"])
    assert reply_text(post) == "agent: first words"
    settle(bridge, slack)
    assert len(sessions(openai)) == 2  # the DM's one, and the sentinel's
    assert len(openai.calls("POST", r"^/v1/agents/sessions$")) == 2


def test_a_failed_turn_gets_the_usual_clear_message(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI, agent_id: str
) -> None:
    bridge = start_bridge()
    openai.agent_turn_error_next = {"code": "usage_limit_exceeded", "message": "Over the limit."}
    event = dm_event("U1", "this fails")
    bridge.send(event_callback(event))
    [post] = posts_in(slack, event["channel"])
    assert reply_text(post) == messages.RUN_FAILED
    assert "Over the limit" not in reply_text(post)


def hosted_agent(openai: FakeOpenAI, tmp_path: Path) -> str:
    """A `coder` agent with an OpenAI-hosted environment, the only default assistant."""
    agent = openai.add_agent(model="gpt-5-mini")
    (tmp_path / "assistants.toml").write_text(
        f"""\
[assistants.coder]
agent = "{agent["id"]}"

[assistants.coder.environment]
type = "openai_hosted"
container_size = "small"
"""
    )
    openai.responder = echo
    return str(agent["id"])


def test_an_artifact_of_the_turn_is_uploaded_to_slack(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI, tmp_path: Path
) -> None:
    hosted_agent(openai, tmp_path)
    bridge = start_bridge()
    openai.agent_artifacts_next = [
        {"path": "/workspace/outputs/report.csv", "content": b"region,total\nnorth,3\n"}
    ]
    event = dm_event("U1", "make me a report")
    bridge.send(event_callback(event))
    posts_in(slack, event["channel"])
    uploads = slack.wait_for(slack.uploads)
    assert all(u.channel == event["channel"] for u in uploads)
    assert [(u.filename, u.content) for u in uploads] == [
        ("report.csv", b"region,total\nnorth,3\n")
    ]


def test_an_approval_request_is_declined_and_the_user_is_told(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI, agent_id: str
) -> None:
    bridge = start_bridge()
    openai.agent_approvals_next = [{"server_label": "crm", "name": "wipe", "arguments": {}}]
    event = dm_event("U1", "wipe the crm")
    bridge.send(event_callback(event))
    [post] = posts_in(slack, event["channel"])
    assert "approval to use crm" in reply_text(post) and "declined" in reply_text(post)


def test_an_agent_answer_streams_and_stop_cancels_the_turn(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI, agent_id: str
) -> None:
    long = " ".join(f"word{i}" for i in range(80))
    openai.responder = lambda context: long
    openai.latency = 1.5
    openai.agent_deltas = 40
    openai.agent_first_token = 0.2
    bridge = start_bridge(STREAMING="on")
    warm = dm_event("U1", "warm up")
    bridge.send(event_callback(warm))
    channel = warm["channel"]
    slack.wait_for(lambda: [s for s in slack.streams(channel) if s.state != "streaming"])

    event = dm_event("U1", "stream it", channel=channel)
    bridge.send(event_callback(event))
    [stream] = slack.wait_for(
        lambda: [s for s in slack.streams(channel)[1:] if s.state != "streaming"]
    )
    assert stream.thread_ts == event["ts"]
    assert slack.visible_text(channel, stream.ts) == long
    assert answers(slack, channel) == []

    openai.latency = 20.0
    openai.agent_first_token = 0.2
    later = dm_event("U1", "go on forever", channel=channel)
    bridge.send(event_callback(later))
    slack.wait_for(lambda: [s for s in slack.streams(channel)[2:] if len(s.text) > 10])
    stop = slack.press_stop(channel, later["ts"], user="U1")
    assert bridge.send(event_callback(stop))[0] == 200
    cancels = lambda: [  # noqa: E731
        p for p in openai.agent_event_posts() if p.events[0]["type"].endswith(".cancel")
    ]
    openai.wait_for(cancels)
    third = slack.streams(channel)[2]
    final = slack.wait_for(
        lambda: (
            t
            if (t := slack.visible_text(channel, third.ts)).endswith(messages.STOPPED_MARK)
            else ""
        )
    )
    assert long.startswith(final.removesuffix("\n\n" + messages.STOPPED_MARK))


def test_files_for_an_agent_without_an_environment_are_not_moved_and_the_user_is_told(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI, agent_id: str
) -> None:
    bridge = start_bridge()
    files = [slack.add_file("F0CSV", "sales.csv", b"month,sales\njan,1\n", "text/csv")]
    event = dm_event("U1", "sum this up", subtype="file_share", files=files)
    bridge.send(event_callback(event))
    [post] = posts_in(slack, event["channel"])
    assert reply_text(post) == "agent: sum this up"
    [hint] = slack.ephemerals(event["channel"])
    assert hint["user"] == "U1"
    assert hint["text"] == messages.FILES_NOT_FOR_AGENT.format(files="sales.csv")
    assert openai.files == [], "nothing was uploaded to OpenAI"


def test_files_reach_a_hosted_environment_at_the_create_and_later_through_its_files_api(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI, tmp_path: Path
) -> None:
    hosted_agent(openai, tmp_path)
    bridge = start_bridge()
    first_files = [slack.add_file("F0CSV", "sales.csv", b"month,sales\njan,1\n", "text/csv")]
    first = dm_event("U1", "chart this", subtype="file_share", files=first_files)
    bridge.send(event_callback(first))
    [post] = posts_in(slack, first["channel"])
    assert reply_text(post) == (
        "agent: chart this\n\n(Attached files, in your environment: /workspace/inputs/sales.csv)"
    )
    [session] = sessions(openai)
    environment = session["environment"]
    assert environment["type"] == "openai_hosted"  # type: ignore[index]
    assert environment["container_size"] == "small"  # type: ignore[index]
    environment_id = str(environment["id"])  # type: ignore[index]

    later_files = [slack.add_file("F0TXT", "notes.txt", b"remember this", "text/plain")]
    later = dm_event(
        "U1", "and these notes", subtype="file_share", files=later_files, channel=first["channel"]
    )
    bridge.send(event_callback(later))
    posts_in(slack, first["channel"], 2)
    placed = {f["path"]: f["content"] for f in openai.agent_environment_files(environment_id)}
    assert placed == {
        "/workspace/inputs/sales.csv": b"month,sales\njan,1\n",
        "/workspace/inputs/notes.txt": b"remember this",
    }
    assert len(sessions(openai)) == 1


def test_assistant_use_and_reset_work_for_agents_and_reset_leaves_the_old_session(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI, agent_id: str
) -> None:
    import json

    from tests.fakes.slack_events import slash_command_form

    bridge = start_bridge()

    def command(text_: str) -> str:
        status, body = bridge.send_raw(
            slash_command_form("/assistant", text_, user_id="U1", channel_id="D0DMU1"),
            content_type="application/x-www-form-urlencoded",
        )
        assert status == 200, body
        return str(json.loads(body)["text"])

    def ask(said: str, count: int) -> str:
        event = dm_event("U1", said)
        bridge.send(event_callback(event))
        return reply_text(posts_in(slack, event["channel"], count)[count - 1])

    assert "*chat*" in command("use chat")
    ask("to the chat model", 1)
    assert len(openai.responses_created()) == 1 and sessions(openai) == []
    assert "*worker*" in command("use worker")
    assert ask("to the agent", 2) == "agent: to the agent"
    assert len(openai.responses_created()) == 1 and len(sessions(openai)) == 1
    assert "*worker*" in command("current")
    assert "fresh conversation" in command("reset")
    assert ask("after the reset", 3) == "agent: after the reset"
    old, new = sessions(openai)
    assert old["id"] != new["id"], "a reset starts a new session"
    assert openai.calls("DELETE", r"^/v1/agents/sessions/") == [], "the old one is left alone"
