"""Several processes on one PostgreSQL database: every run polled, every reply posted, once."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from tests.conftest import ON_POSTGRES
from tests.e2e.conftest import StartBridge
from tests.e2e.replies import answers, input_texts, posts_in, reply_text
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import dm_event, event_callback

pytestmark = pytest.mark.skipif(
    not ON_POSTGRES, reason="several processes share a database only on PostgreSQL"
)


def test_events_spread_over_two_processes_are_each_answered_once(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    openai.latency = 0.5
    bridges = [start_bridge(), start_bridge()]
    sent: list[str] = []
    for round_ in range(3):
        for user in range(6):
            event = dm_event(f"U{user}", f"u{user} r{round_}")
            payload = event_callback(event)
            first, other = bridges[user % 2], bridges[(user + 1) % 2]
            assert first.send(payload)[0] == 200
            assert other.send(payload, retry_num=1)[0] == 200  # Slack's retry lands elsewhere
            sent.append(event["text"])
        time.sleep(0.2)  # spread the rounds so some arrive during runs (not synchronisation)

    def all_answered() -> bool:
        answered = [t for body in openai.responses_created() for t in input_texts(body)]
        return sorted(answered) == sorted(sent) and len(slack.posts()) == len(
            openai.responses_created()
        )

    slack.wait_for(all_answered, timeout=30)
    answered = Counter(t for body in openai.responses_created() for t in input_texts(body))
    assert set(answered.values()) == {1}, "each message went into exactly one run"
    replies = Counter(reply_text(p).rsplit(" (turn", 1)[0] for p in slack.posts())
    assert set(replies.values()) == {1}, "each run's reply was posted exactly once"


def test_work_of_a_killed_process_is_taken_over_by_another(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    openai.latency = 3
    doomed, survivor = start_bridge(), start_bridge()
    event = dm_event("U1", "who finishes this?")
    doomed.send(event_callback(event))
    openai.wait_for(lambda: openai.responses_created())
    doomed.kill()
    killed_at = time.monotonic()

    [post] = posts_in(slack, event["channel"])
    assert time.monotonic() - killed_at < 60
    assert reply_text(post) == "echo: who finishes this? (turn 1)"
    assert len(openai.responses_created()) == 1
    assert "turn 1 finished: completed" in survivor.log()


def test_a_turn_moving_slow_files_keeps_its_lease_so_no_other_process_moves_them_again(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    # Each upload to OpenAI takes 2 s (within the lease: LEASE_SECONDS=3 here), all four take
    # 8 s: without renewal the turn would be free to take from 3 s to 8 s, which holds at least
    # one of the other process's sweeps (every 5 s).
    names = ["a.pdf", "b.pdf", "c.pdf", "d.pdf"]
    for _ in names:
        openai.hold_answer_next("POST", r"^/v1/files$", seconds=2)
    files = [
        slack.add_file(f"F0{i}", name, b"%PDF-1.4 " + name.encode(), "application/pdf")
        for i, name in enumerate(names)
    ]
    first, _other = start_bridge(), start_bridge()
    event = dm_event("U1", "three slow files", subtype="file_share", files=files)
    first.send(event_callback(event))
    # The uploads alone take 8 s: wait longer than posts_in's usual 10 s.
    [post] = slack.wait_for(lambda: answers(slack, event["channel"]), timeout=40)
    assert reply_text(post).startswith("echo: ")
    assert sorted(f["filename"] for f in openai.files) == names, "each file uploaded once"
    assert len(openai.responses_created()) == 1
