"""Turns on both backends, long answers, bursts, failures, and a restart in the middle of a run."""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.e2e.conftest import StartBridge
from tests.e2e.harness import BridgeProcess
from tests.e2e.replies import answers, input_texts, posts_in, reply_text
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import dm_event, event_callback, mention_event


def test_assistants_api_default_assistant_runs_on_threads_and_runs(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    openai.add_assistant("asst_legacy123", model="gpt-4o", instructions="Be terse.")
    bridge = start_bridge(OPENAI_ASSISTANT_ID="asst_legacy123")
    first = dm_event("U1", "hello legacy")
    bridge.send(event_callback(first))
    assert reply_text(posts_in(slack, first["channel"])[0]) == "echo: hello legacy (turn 1)"
    second = dm_event("U1", "again")
    bridge.send(event_callback(second))
    assert reply_text(posts_in(slack, first["channel"], 2)[1]) == "echo: again (turn 2)"

    runs = openai.runs_created()
    assert [run["assistant_id"] for run in runs] == ["asst_legacy123"] * 2
    assert len(openai.calls("POST", r"^/v1/threads$")) == 1
    assert openai.responses_created() == []
    assert openai.calls("GET", r"^/v1/threads/[^/]+/messages$")[0].query.get("run_id")


def test_a_long_answer_is_split_over_several_messages_and_nothing_is_lost(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    paragraphs = [f"## Part {i}\n\n" + f"sentence {i} " * 400 for i in range(12)]
    code = "```python\n" + "\n".join(f"x_{i} = {i}" for i in range(1500)) + "\n```"
    answer = "\n\n".join([*paragraphs[:6], code, *paragraphs[6:]])
    openai.responder = lambda context: answer

    event = dm_event("U1", "write a lot")
    bridge.send(event_callback(event))
    slack.wait_for(
        lambda: sum(len(reply_text(p)) for p in slack.posts(event["channel"])) >= len(answer)
    )
    posts = slack.posts(event["channel"])
    texts = [reply_text(post) for post in posts]

    assert len(texts) >= 4
    assert all(len(t) <= 12_000 for t in texts)
    assert all(t.count("```") % 2 == 0 for t in texts), "code fences balanced in every part"
    joined = "\n".join(texts)
    # Remove the fences the splitter adds at seams; the words must be exactly the answer's.
    joined = re.sub(r"\n```\n```python\n", "\n", joined)
    assert joined.split() == answer.split()


def test_messages_sent_during_a_run_are_answered_together_in_the_next_turn(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    openai.latency = 1.0
    first = dm_event("U1", "first")
    bridge.send(event_callback(first))
    openai.wait_for(lambda: openai.responses_created())
    burst = [dm_event("U1", f"more {i}") for i in range(3)]
    for event in burst:
        assert bridge.send(event_callback(event))[0] == 200

    posts = posts_in(slack, first["channel"], 2)
    assert [reply_text(p) for p in posts] == [
        "echo: first (turn 1)",
        "echo: more 0\nmore 1\nmore 2 (turn 2)",
    ]
    assert [input_texts(b) for b in openai.responses_created()] == [
        ["first"],
        ["more 0", "more 1", "more 2"],
    ]
    locked = [c for c in openai.calls("POST", r"^/v1/responses$") if c.json is None]
    assert locked == []


def test_the_next_turn_starts_while_the_previous_reply_is_still_being_posted(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    openai.latency = 1.0
    slack.latency["chat.postMessage"] = 3.0  # a slow Slack: the first reply takes 3 s to post
    first = dm_event("U1", "first")
    bridge.send(event_callback(first))
    openai.wait_for(lambda: openai.responses_created())
    bridge.send(event_callback(dm_event("U1", "second")))

    # The second run is created while the first reply's post still waits for Slack.
    openai.wait_for(lambda: len(openai.responses_created()) == 2)
    assert slack.calls("chat.postMessage"), "the first reply's post has been sent"
    assert answers(slack, first["channel"]) == [], "and Slack has not answered it yet"
    posts = posts_in(slack, first["channel"], 2)
    assert [reply_text(p) for p in posts] == ["echo: first (turn 1)", "echo: second (turn 2)"]


def test_a_reply_covering_several_threads_goes_to_the_newest_one(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    openai.latency = 1.0
    first = mention_event("U1", "thread one", channel="C1")
    bridge.send(event_callback(first))
    openai.wait_for(lambda: openai.responses_created())
    second = mention_event("U2", "thread two", channel="C1")
    third = mention_event("U3", "thread three", channel="C1")
    bridge.send(event_callback(second))
    bridge.send(event_callback(third))
    posts = posts_in(slack, "C1", 2)
    assert [p["thread_ts"] for p in posts] == [first["ts"], third["ts"]]


def test_a_failed_run_gets_a_short_clear_message(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI, db: Engine
) -> None:
    openai.final_status = "failed"
    event = dm_event("U1", "this will fail")
    bridge.send(event_callback(event))
    [post] = posts_in(slack, event["channel"])
    assert "could not answer" in reply_text(post)
    assert "server_error" not in reply_text(post)
    with db.connect() as connection:
        outcome = connection.execute(text("SELECT outcome FROM turn")).scalar_one()
    assert outcome == "failed"

    openai.final_status = None
    again = dm_event("U1", "and now?")
    bridge.send(event_callback(again))
    assert reply_text(posts_in(slack, event["channel"], 2)[1]).startswith("echo: and now?")


def test_a_rejected_request_is_not_retried_and_the_user_is_told(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    openai.fail_next("POST", r"^/v1/responses$", 400, times=5)
    event = dm_event("U1", "bad request")
    bridge.send(event_callback(event))
    [post] = posts_in(slack, event["channel"])
    assert "refused" in reply_text(post)
    assert len(openai.calls("POST", r"^/v1/responses$")) == 1


def test_a_rate_limited_start_is_retried_and_answered_once(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    openai.fail_next("POST", r"^/v1/responses$", 429, headers={"Retry-After": "0"}, times=2)
    event = dm_event("U1", "busy?")
    bridge.send(event_callback(event))
    [post] = posts_in(slack, event["channel"])
    assert reply_text(post) == "echo: busy? (turn 1)"
    assert len(openai.calls("POST", r"^/v1/responses$")) == 3
    assert len(openai.responses_created()) == 1


def _turn_row(db: Engine) -> tuple[str | None, str | None, str | None]:
    with db.connect() as connection:
        row = connection.execute(text("SELECT status, outcome, run_id FROM turn")).one_or_none()
    return (row.status, row.outcome, row.run_id) if row else (None, None, None)


def test_a_restart_during_the_run_still_delivers_the_reply_exactly_once(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI, db: Engine
) -> None:
    openai.latency = 3.0
    first = start_bridge()
    event = dm_event("U1", "survive the restart")
    first.send(event_callback(event))
    openai.wait_for(lambda: _turn_row(db)[2], timeout=10)  # the run's id is recorded
    first.kill()  # SIGKILL: no chance to hand anything over

    second = start_bridge()
    [post] = posts_in(slack, event["channel"])
    assert reply_text(post) == "echo: survive the restart (turn 1)"
    assert _turn_row(db)[:2] == ("done", "completed")
    _no_more_posts(second, slack, event["channel"])
    assert _creates_for(openai, "survive the restart") == 1


def _creates_for(openai: FakeOpenAI, text_: str) -> int:
    return sum(1 for body in openai.responses_created() if text_ in input_texts(body))


def test_a_crash_between_creating_the_run_and_recording_it_adopts_that_run(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI, db: Engine
) -> None:
    openai.hold_answer_next("POST", r"^/v1/responses$", seconds=30)
    first = start_bridge()
    event = dm_event("U1", "created, never recorded")
    first.send(event_callback(event))
    openai.wait_for(lambda: openai.responses_created())
    first.kill()  # the create took effect at OpenAI; its answer never reached the bridge
    assert _turn_row(db)[2] is None

    second = start_bridge()
    [post] = posts_in(slack, event["channel"])
    assert reply_text(post) == "echo: created, never recorded (turn 1)"
    _no_more_posts(second, slack, event["channel"])
    assert _creates_for(openai, "created, never recorded") == 1, "adopted, not created twice"


def test_a_create_whose_answer_was_lost_is_not_repeated(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    openai.lose_answer_next("POST", r"^/v1/responses$")
    event = dm_event("U1", "connection reset")
    bridge.send(event_callback(event))
    [post] = posts_in(slack, event["channel"])
    assert reply_text(post) == "echo: connection reset (turn 1)"
    _no_more_posts(bridge, slack, event["channel"])
    assert _creates_for(openai, "connection reset") == 1


def _no_more_posts(bridge: BridgeProcess, slack: FakeSlack, channel: str) -> None:
    """Run one more turn elsewhere to its end; by then a duplicate would have been posted."""
    sentinel = dm_event("U99", "sentinel")
    bridge.send(event_callback(sentinel))
    posts_in(slack, sentinel["channel"])
    assert len(slack.posts(channel)) == 1


def test_a_function_call_the_bridge_cannot_run_gets_an_error_output_and_the_turn_ends(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    openai.function_calls_next = [{"name": "get_weather", "arguments": '{"city": "Oslo"}'}]
    event = dm_event("U1", "weather?")
    bridge.send(event_callback(event))
    [post] = posts_in(slack, event["channel"])
    assert reply_text(post).startswith("echo: ")
    first, follow_up = openai.responses_created()
    assert first["conversation"] == follow_up["conversation"]
    [output] = follow_up["input"]
    assert output["type"] == "function_call_output"
    assert "not available" in output["output"]


def test_an_assistants_run_waiting_for_a_missing_function_gets_an_error_output(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    openai.add_assistant("asst_tools", model="gpt-4o")
    bridge = start_bridge(OPENAI_ASSISTANT_ID="asst_tools")
    openai.function_calls_next = [{"name": "lookup_order", "arguments": "{}"}]
    event = dm_event("U1", "where is my order?")
    bridge.send(event_callback(event))
    [post] = posts_in(slack, event["channel"])
    assert reply_text(post).startswith("echo: ")
    [submitted] = openai.calls("POST", r"/runs/[^/]+/submit_tool_outputs$")
    assert "not available" in submitted.json["tool_outputs"][0]["output"]
