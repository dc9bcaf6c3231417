"""Reading what the bridge did: reply posts at the fake Slack, inputs at the fake OpenAI,
messages stored in the database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.e2e.harness import BridgeProcess
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import dm_event, event_callback


def reply_text(message: dict[str, Any]) -> str:
    """The text of a reply part (an answer's last part ends with its feedback buttons)."""
    blocks = message.get("blocks") or []
    assert [b["type"] for b in blocks] in (["markdown"], ["markdown", "context_actions"]), message
    return str(blocks[0]["text"])


def answers(slack: FakeSlack, channel: str) -> list[dict[str, Any]]:
    """The replies posted in `channel` (answers and notices, not the plain-text status lines)."""
    return [post for post in slack.posts(channel) if post.get("blocks")]


def posts_in(slack: FakeSlack, channel: str, count: int = 1) -> list[dict[str, Any]]:
    """Wait until `channel` has at least `count` replies; return them all."""

    def enough() -> list[dict[str, Any]]:
        posts = answers(slack, channel)
        return posts if len(posts) >= count else []

    return slack.wait_for(enough)


def input_texts(body: dict[str, Any]) -> list[str]:
    return [item["content"] for item in body["input"]]


def stored_messages(db: Engine) -> int:
    """How many Slack messages the bridge has stored (its queue, answered or not)."""
    with db.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM inbound_message")).scalar_one())


def settle(bridge: BridgeProcess, slack: FakeSlack) -> None:
    """Answer a sentinel DM end to end: whatever was going to happen before it has happened."""
    sentinel = dm_event("U99", "sentinel")
    assert bridge.send(event_callback(sentinel))[0] == 200
    posts_in(slack, sentinel["channel"])
