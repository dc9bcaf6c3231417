"""Faults from outside: OpenAI and Slack errors, slow runs, oversized input, restarts, SIGTERM."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot import messages
from tests.e2e.conftest import StartBridge
from tests.e2e.harness import BridgeProcess, wait_for
from tests.e2e.replies import posts_in, reply_text
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.runner import wait_until
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import dm_event, event_callback


def settle(bridge: BridgeProcess, slack: FakeSlack, user: str = "U99") -> None:
    """Answer a sentinel DM end to end: what was going to happen before it has happened."""
    sentinel = dm_event(user, f"sentinel {time.monotonic()}")
    assert bridge.send(event_callback(sentinel))[0] == 200
    posts_in(slack, sentinel["channel"])


def test_a_run_past_the_timeout_is_cancelled_and_the_user_told(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI, db: Engine
) -> None:
    openai.latency = 30
    bridge = start_bridge(RUN_TIMEOUT_SECONDS="1")
    event = dm_event("U1", "think forever")
    bridge.send(event_callback(event))
    [post] = posts_in(slack, event["channel"])
    assert "took longer than 1 minutes" in reply_text(post)
    assert len(openai.calls("POST", r"^/v1/responses/[^/]+/cancel$")) == 1
    with db.connect() as connection:
        assert connection.execute(text("SELECT outcome FROM turn")).scalar_one() == "timeout"


def test_an_oversized_message_gets_a_limit_message_and_no_run(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    event = dm_event("U1", "x" * 30_001)
    assert bridge.send(event_callback(event))[0] == 200
    [hint] = slack.wait_for(lambda: slack.ephemerals(event["channel"]))
    assert "too long" in hint["text"] and "30,001" in hint["text"] and "30,000" in hint["text"]
    settle(bridge, slack)
    assert slack.posts(event["channel"]) == []
    assert len(openai.responses_created()) == 1


def test_a_turn_too_long_for_the_model_even_truncated_gets_a_clear_notice(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    body = {
        "error": {
            "message": "Your input exceeds the context window of this model.",
            "type": "invalid_request_error",
            "param": "input",
            "code": "context_length_exceeded",
        }
    }
    # Refused twice: the create, and its one retry with truncation forced.
    openai.fail_next("POST", r"^/v1/responses$", 400, body=body, times=2)
    event = dm_event("U1", "one more thing")
    bridge.send(event_callback(event))
    [post] = posts_in(slack, event["channel"])
    assert reply_text(post) == messages.CONTEXT_FULL
    assert "context window" not in reply_text(post)


def test_a_bad_openai_key_is_reported_once_at_start_and_users_get_a_notice(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    openai.api_key = "sk-the-real-one"
    bridge = start_bridge()
    wait_for(lambda: "OpenAI rejected OPENAI_API_KEY" in bridge.log(), what="the key warning")
    event = dm_event("U1", "hello?")
    bridge.send(event_callback(event))
    [post] = posts_in(slack, event["channel"])
    assert "refused" in reply_text(post)
    assert bridge.log().count("OpenAI rejected OPENAI_API_KEY") == 1
    assert "sk-test-key-not-real" not in bridge.log()


def test_slack_rate_limits_on_posting_are_waited_out_and_the_reply_posted_once(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    slack.fail_next("chat.postMessage", status=429, headers={"Retry-After": "1"}, times=2)
    event = dm_event("U1", "rate limited")
    bridge.send(event_callback(event))
    [post] = posts_in(slack, event["channel"])
    assert reply_text(post) == "echo: rate limited (turn 1)"
    settle(bridge, slack)
    assert len(slack.posts(event["channel"])) == 1
    assert len(slack.calls("chat.postMessage")) == 4  # 2 refused, the reply, the sentinel


def test_a_rate_limited_working_sign_is_skipped_not_added_after_the_answer(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    # Waited out, the reaction would be added a second later: after this quick answer and
    # its reaction removal, where it would then stay.
    slack.fail_next("reactions.add", status=429, headers={"Retry-After": "1"})
    event = dm_event("U1", "busy workspace")
    bridge.send(event_callback(event))
    [post] = posts_in(slack, event["channel"])
    assert reply_text(post) == "echo: busy workspace (turn 1)"
    skipped = f"reaction add on {event['ts']} failed: ratelimited"
    wait_until(lambda: skipped in bridge.log(), timeout=10, describe=bridge.log)
    settle(bridge, slack)
    adds = [c for c in slack.calls("reactions.add") if c.params["timestamp"] == event["ts"]]
    assert len(adds) == 1
    assert slack.reactions(event["channel"], event["ts"]) == set()
    assert len(slack.posts(event["channel"])) == 1


def test_slack_server_errors_on_posting_are_retried_and_the_reply_posted_once(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    slack.fail_next("chat.postMessage", status=503, times=1)
    event = dm_event("U1", "server trouble")
    bridge.send(event_callback(event))
    [post] = posts_in(slack, event["channel"])
    assert reply_text(post) == "echo: server trouble (turn 1)"
    settle(bridge, slack)
    assert len(slack.posts(event["channel"])) == 1
    assert slack.calls("conversations.history"), "Slack was asked before posting again"


def test_a_channel_that_cannot_take_the_reply_ends_delivery_with_a_logged_reason(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI, db: Engine
) -> None:
    event = dm_event("U1", "into the void")
    slack.channel_errors[event["channel"]] = "channel_not_found"
    bridge.send(event_callback(event))
    wait_for(lambda: "cannot be posted (channel_not_found)" in bridge.log(), what="the log line")
    settle(bridge, slack)
    attempts = [
        c for c in slack.calls("chat.postMessage") if c.params["channel"] == event["channel"]
    ]
    assert len(attempts) == 1
    with db.connect() as connection:
        statuses = connection.execute(text("SELECT status, error FROM reply")).all()
    assert ("failed", "channel_not_found") in [tuple(row) for row in statuses]


def test_sigterm_exits_quickly_and_the_next_process_delivers_the_reply(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    openai.latency = 4
    first = start_bridge()
    event = dm_event("U1", "across a deploy")
    first.send(event_callback(event))
    openai.wait_for(lambda: openai.responses_created())
    started = time.monotonic()
    assert first.stop(timeout=25) == 0
    assert time.monotonic() - started < 25
    assert slack.posts(event["channel"]) == []

    start_bridge()
    [post] = posts_in(slack, event["channel"])
    assert reply_text(post) == "echo: across a deploy (turn 1)"
    assert len(openai.responses_created()) == 1


def test_a_post_whose_answer_was_lost_is_not_posted_again(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    slack.lose_answer_next("chat.postMessage")
    event = dm_event("U1", "posted, unacknowledged")
    bridge.send(event_callback(event))
    [post] = posts_in(slack, event["channel"])
    assert reply_text(post) == "echo: posted, unacknowledged (turn 1)"
    wait_for(lambda: "was already in Slack" in bridge.log(), what="the lookup", timeout=20)
    settle(bridge, slack)
    assert len(slack.posts(event["channel"])) == 1


def test_a_crash_while_posting_a_split_reply_posts_each_part_exactly_once(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    answer = "\n\n".join(f"Paragraph {i}. " + "word " * 1500 for i in range(6))
    openai.responder = lambda context: answer
    first = start_bridge()
    slack.hold_answer_next("chat.postMessage", seconds=30)  # part 1 reaches Slack; no answer
    event = dm_event("U1", "long one")
    first.send(event_callback(event))
    posts_in(slack, event["channel"])
    first.kill()

    second = start_bridge()

    def whole_answer_posted() -> bool:
        posted = sum(len(reply_text(p)) for p in slack.posts(event["channel"]))
        return posted >= len(answer) - 100

    slack.wait_for(whole_answer_posted)
    settle(second, slack)
    texts = [reply_text(p) for p in slack.posts(event["channel"])]
    assert len(texts) == len(set(texts)) >= 3
    assert " ".join(texts).split() == answer.split()


def test_a_crash_before_the_run_is_created_still_answers_once(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    openai.hold_answer_next("POST", r"^/v1/conversations$", seconds=30)
    first = start_bridge()
    event = dm_event("U1", "stored, then the crash")
    first.send(event_callback(event))
    openai.wait_for(lambda: openai.calls("POST", r"^/v1/conversations$"))
    first.kill()  # the message is stored; no run exists yet

    start_bridge()
    [post] = posts_in(slack, event["channel"])
    assert reply_text(post) == "echo: stored, then the crash (turn 1)"
    assert len(openai.responses_created()) == 1


@pytest.mark.parametrize(
    ("final", "expected"),
    [
        ("incomplete", "stopped early (it reached the maximum answer length)"),
        ("cancelled", "was cancelled before it answered"),
        ("failed", "ran into an error"),
    ],
)
def test_each_bad_ending_of_a_response_gets_its_own_message(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI, final: str, expected: str
) -> None:
    openai.final_status = final
    event = dm_event("U1", f"end {final}")
    bridge.send(event_callback(event))
    # An incomplete answer posts what the model wrote, then the notice: wait for the notice.
    slack.wait_for(lambda: any(expected in reply_text(p) for p in slack.posts(event["channel"])))
    texts = [reply_text(p) for p in slack.posts(event["channel"])]
    assert expected in texts[-1]


def test_an_expired_assistants_run_gets_its_own_message(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    openai.add_assistant("asst_slow", model="gpt-4o")
    bridge = start_bridge(OPENAI_ASSISTANT_ID="asst_slow")
    openai.final_status = "expired"
    event = dm_event("U1", "too slow")
    bridge.send(event_callback(event))
    [post] = posts_in(slack, event["channel"])
    assert "took too long and its run expired" in reply_text(post)


def test_openai_server_errors_while_polling_are_retried(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    openai.fail_next("GET", r"^/v1/responses/", 503, times=4)
    openai.drop_next("GET", r"^/v1/responses/", times=1)
    event = dm_event("U1", "flaky polls")
    bridge.send(event_callback(event))
    [post] = posts_in(slack, event["channel"])
    assert reply_text(post) == "echo: flaky polls (turn 1)"
    assert len(openai.responses_created()) == 1
