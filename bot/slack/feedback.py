"""Feedback buttons on answers: the blocks the answer carries, and reading a press of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

# The action_id the bridge listens for (Slack: at most 255 characters).
FEEDBACK_ACTION_ID = "assistant_bridge_feedback"
Vote = Literal["up", "down"]
_VOTES: tuple[Vote, ...] = ("up", "down")
# A button's value may hold 2,000 characters (Block Kit, feedback buttons element); ours is
# "up:<turn id>:<assistant>", well under it (assistant names are at most 100 characters).
MAX_VALUE = 2000


def feedback_blocks(*, turn_id: int, assistant: str) -> list[dict[str, Any]]:
    """A `context_actions` block with 👍/👎 `feedback_buttons`, for the end of an answer.

    Each button's value names the turn and the assistant, so a press on an answer whose
    turn row was pruned (RETENTION_DAYS) is still recorded under its assistant. No
    block_id: Slack makes one, and wants a new one whenever the message is updated.
    """
    return [
        {
            "type": "context_actions",
            "elements": [
                {
                    "type": "feedback_buttons",
                    "action_id": FEEDBACK_ACTION_ID,
                    "positive_button": _button("👍", "Good answer", "up", turn_id, assistant),
                    "negative_button": _button("👎", "Bad answer", "down", turn_id, assistant),
                }
            ],
        }
    ]


def _button(text: str, label: str, vote: Vote, turn_id: int, assistant: str) -> dict[str, Any]:
    return {
        "text": {"type": "plain_text", "text": text},
        "accessibility_label": label,
        "value": f"{vote}:{turn_id}:{assistant}"[:MAX_VALUE],
    }


@dataclass(frozen=True)
class FeedbackPress:
    """One person's press of a feedback button on one answer."""

    team_id: str
    channel_id: str
    message_ts: str
    thread_ts: str | None
    user_id: str
    vote: Vote
    turn_id: int | None
    assistant: str


def read_press(body: dict[str, Any], action: dict[str, Any]) -> FeedbackPress | None:
    """The press a `block_actions` payload describes, or None if it lacks what a press of
    our buttons always has (the message, the person, a value we wrote)."""
    vote, turn_id, assistant = _read_value(action.get("value"))
    container = _dict(body.get("container"))
    message = _dict(body.get("message"))
    channel = container.get("channel_id") or _dict(body.get("channel")).get("id")
    message_ts = container.get("message_ts") or message.get("ts")
    thread_ts = container.get("thread_ts") or message.get("thread_ts")
    user = _dict(body.get("user"))
    team = _dict(body.get("team")).get("id") or user.get("team_id")
    if vote is None or not (channel and message_ts and user.get("id") and team):
        return None
    return FeedbackPress(
        team_id=str(team),
        channel_id=str(channel),
        message_ts=str(message_ts),
        # The answer is the thread's root when it was posted at the top of a DM.
        thread_ts=str(thread_ts) if thread_ts and thread_ts != message_ts else None,
        user_id=str(user["id"]),
        vote=vote,
        turn_id=turn_id,
        assistant=assistant,
    )


def _read_value(value: Any) -> tuple[Vote | None, int | None, str]:
    vote, _, rest = str(value or "").partition(":")
    turn, _, assistant = rest.partition(":")
    if vote not in _VOTES or not assistant:
        return None, None, ""
    return (vote if vote == "up" else "down"), (int(turn) if turn.isdigit() else None), assistant


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
