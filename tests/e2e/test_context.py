"""Long conversations end to end: past the fake's context window they keep answering, one
message too large for it gets a notice and the conversation goes on, and every create
carries its conversation's cache key and a hash of who asks."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from bot import messages
from bot.turns.brief import safety_id
from tests.e2e.conftest import StartBridge
from tests.e2e.harness import BridgeProcess
from tests.e2e.replies import posts_in, reply_text
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import dm_event, event_callback

LIMIT = 3_000
ASSISTANTS_OFF = """\
[assistants.plain]
model = "gpt-4.1-mini"
context = "off"
"""


def creates(openai: FakeOpenAI) -> list[dict[str, Any]]:
    """Every create the bridge sent, refused ones included, in order."""
    return [req.json for req in openai.calls("POST", r"^/v1/responses$") if req.json]


def streams_ended(slack: FakeSlack, channel: str, count: int) -> bool:
    """At least `count` answers in `channel` have streamed to their end."""
    return len([s for s in slack.streams(channel) if s.state != "streaming"]) >= count


def ask(bridge: BridgeProcess, slack: FakeSlack, user: str, text: str, count: int) -> str:
    """Send a DM and return the text of the `count`th reply in it."""
    event = dm_event(user, text)
    assert bridge.send(event_callback(event))[0] == 200
    return reply_text(posts_in(slack, event["channel"], count)[count - 1])


@pytest.mark.parametrize("streaming", ["off", "on"])
def test_a_conversation_past_the_context_limit_keeps_answering(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI, streaming: str
) -> None:
    openai.context_limit = LIMIT
    bridge = start_bridge(STREAMING=streaming)
    for turn in range(1, 6):
        text = f"part {turn}: " + "words " * 150
        if streaming == "off":
            assert ask(bridge, slack, "U1", text, turn).startswith(f"echo: part {turn}")
        else:  # the answer streams (chat.startStream …): wait for its stream to end
            assert bridge.send(event_callback(dm_event("U1", text)))[0] == 200
            slack.wait_for(partial(streams_ended, slack, "D0DMU1", turn))
    sent = creates(openai)
    assert len(sent) == 5  # none refused
    assert all(body.get("stream") is (True if streaming == "on" else None) for body in sent)
    # The conversation outgrew the window: its inputs alone (without the answers) pass it.
    assert sum(len(json.dumps(body["input"])) for body in sent) > LIMIT
    for body in sent:  # the default `context = "compact"`, what keeps it within
        assert body["context_management"] == [{"type": "compaction", "compact_threshold": 100_000}]
        assert body["truncation"] == "auto"


def test_context_off_past_the_limit_is_retried_once_with_truncation(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI, tmp_path: Path
) -> None:
    (tmp_path / "assistants.toml").write_text(ASSISTANTS_OFF)
    openai.context_limit = LIMIT
    bridge = start_bridge()
    for turn in range(1, 5):
        text = f"part {turn}: " + "words " * 150
        assert ask(bridge, slack, "U1", text, turn).startswith(f"echo: part {turn}")
    sent = creates(openai)
    refused = [i for i, body in enumerate(sent) if "truncation" in body]
    # Without context settings the fake refused the create past the window; its one retry
    # (forced `truncation: "auto"`) was answered in the same conversation.
    assert refused, "the conversation never passed the limit"
    first = refused[0]
    assert "truncation" not in sent[first - 1] and "context_management" not in sent[first - 1]
    assert sent[first]["truncation"] == "auto"
    assert sent[first]["input"] == sent[first - 1]["input"]
    assert sent[first]["conversation"] == sent[0]["conversation"]


def test_one_message_too_large_even_truncated_gets_the_notice_and_the_next_is_answered(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    openai.context_limit = LIMIT
    assert ask(bridge, slack, "U1", "hello", 1).startswith("echo: hello")
    assert ask(bridge, slack, "U1", "x" * (LIMIT + 500), 2) == messages.CONTEXT_FULL
    assert ask(bridge, slack, "U1", "still there?", 3).startswith("echo: still there?")
    sent = creates(openai)
    assert len({body["conversation"] for body in sent}) == 1  # the conversation was kept
    assert len(openai.responses_created()) == 2  # the huge one was refused: nothing created


def test_cache_key_per_conversation_and_a_hashed_safety_id(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    ask(bridge, slack, "U1", "one", 1)
    ask(bridge, slack, "U1", "two", 2)
    ask(bridge, slack, "U2", "three", 1)
    one, two, three = openai.responses_created()
    assert one["prompt_cache_key"] == two["prompt_cache_key"] != three["prompt_cache_key"]
    team = event_callback(dm_event("U1", "x"))["team_id"]
    assert one["safety_identifier"] == two["safety_identifier"] == safety_id(team, "U1")
    assert three["safety_identifier"] == safety_id(team, "U2")
    for body in (one, two, three):
        assert len(body["safety_identifier"]) == 64
        for raw in ("U1", "U2", team):
            assert raw not in body["safety_identifier"] and raw not in body["prompt_cache_key"]
