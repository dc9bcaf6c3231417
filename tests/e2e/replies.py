"""Reading what the bridge sent: reply posts at the fake Slack, inputs at the fake OpenAI."""

from __future__ import annotations

from typing import Any

from tests.fakes.slack_api import FakeSlack


def reply_text(message: dict[str, Any]) -> str:
    blocks = message.get("blocks") or []
    assert [b["type"] for b in blocks] == ["markdown"], message
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
