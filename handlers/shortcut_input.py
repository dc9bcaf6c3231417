"""The "Ask the assistant about this" shortcut: its payload read, and the turn's framed input."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from handlers.routing import missing

# The thread's earlier messages that go with the question: newest kept, within both bounds
# (a thread of thousands of messages is cut, never refused).
MAX_THREAD_MESSAGES = 50
MAX_THREAD_CHARS = 8_000


@dataclass(frozen=True)
class ShortcutRequest:
    """A `message_action` payload, the fields the bridge uses (shape: docs.slack.dev,
    "message_action" interaction payload; bolt-python's tests/scenario_tests/test_shortcut.py)."""

    team_id: str
    user_id: str
    channel_id: str
    channel_name: str | None
    message_ts: str
    thread_ts: str | None
    author: str | None
    text: str
    file_names: tuple[str, ...]
    # Unique per use of the shortcut, and the same in a retry of the same payload.
    action_ts: str
    trigger_id: str | None
    response_url: str | None

    @property
    def link(self) -> str:
        """Slack's archive URL of the message (`p` and the ts without its dot; a reply
        also names its thread and channel), which opens it for anyone who may read it."""
        link = f"https://slack.com/archives/{self.channel_id}/p{self.message_ts.replace('.', '')}"
        if self.thread_ts and self.thread_ts != self.message_ts:
            return f"{link}?thread_ts={self.thread_ts}&cid={self.channel_id}"
        return link

    @property
    def where(self) -> str:
        # For a DM or group DM, Slack sends `directmessage` / `mpdm-…` as the name.
        name = self.channel_name or ""
        if not name or name == "directmessage" or name.startswith("mpdm-"):
            return "a direct message"
        return f"#{name}"


def read_request(body: dict[str, Any]) -> ShortcutRequest | None:
    """The request, or None if the payload lacks what every `message_action` carries."""
    team, user, channel, message = (_part(body, name) for name in PARTS)
    message_ts = body.get("message_ts") or message.get("ts")
    if missing(user, "id") or missing(channel, "id") or missing(body, "action_ts"):
        return None
    if not isinstance(message_ts, str) or not message_ts:
        return None
    files = message.get("files") or []
    return ShortcutRequest(
        team_id=str(team.get("id") or user.get("team_id") or ""),
        user_id=str(user["id"]),
        channel_id=str(channel["id"]),
        channel_name=str(channel["name"]) if channel.get("name") else None,
        message_ts=message_ts,
        thread_ts=str(message["thread_ts"]) if message.get("thread_ts") else None,
        author=author_of(message),
        text=str(message.get("text") or "").strip(),
        file_names=tuple(file_name(f) for f in files if isinstance(f, dict)),
        action_ts=str(body["action_ts"]),
        trigger_id=str(body["trigger_id"]) if body.get("trigger_id") else None,
        response_url=str(body["response_url"]) if body.get("response_url") else None,
    )


PARTS = ("team", "user", "channel", "message")


def _part(body: dict[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name)
    return value if isinstance(value, dict) else {}


def author_of(message: dict[str, Any]) -> str | None:
    if message.get("user"):
        return f"<@{message['user']}>"
    if message.get("bot_id") or message.get("username"):
        return str(message.get("username") or "a bot")
    return None


def file_name(file: dict[str, Any]) -> str:
    return str(file.get("name") or file.get("title") or "a file")


def earlier_in_thread(request: ShortcutRequest, replies: list[dict[str, Any]]) -> list[str]:
    """The thread's messages before the asked-about one (from conversations.replies, oldest
    first), one line each with its author and its files named, newest kept within bounds."""
    lines = [
        render_line(m)
        for m in replies
        if isinstance(m, dict) and _ts(m.get("ts")) < _ts(request.message_ts)
    ]
    kept: list[str] = []
    size = 0
    for line in reversed(lines[-MAX_THREAD_MESSAGES:]):
        size += len(line) + 1
        if size > MAX_THREAD_CHARS:
            break
        kept.append(line)
    return kept[::-1]


def render_line(message: dict[str, Any]) -> str:
    files = [file_name(f) for f in message.get("files") or [] if isinstance(f, dict)]
    named = f" [files: {', '.join(files)}]" if files else ""
    text = " ".join(str(message.get("text") or "").split())
    return f"{author_of(message) or 'someone'}: {text}{named}"


def framed_text(request: ShortcutRequest, earlier: list[str], *, limit: int) -> str:
    """What the model receives as the user's message; at most `limit` characters (the
    message's own text is cut first, keeping the framing and the thread)."""
    head = (
        f"The user asks about this Slack message from {request.author or 'someone'} "
        f"in {request.where} ({request.link}):"
    )
    files = f"\n[files: {', '.join(request.file_names)}]" if request.file_names else ""
    thread = (
        "\n\nEarlier messages in its thread, oldest first:\n" + "\n".join(earlier)
        if earlier
        else ""
    )
    room = max(limit - len(head) - len(files) - len(thread) - 4, 0)
    quoted = request.text if len(request.text) <= room else request.text[: max(room - 1, 0)] + "…"
    return f"{head}\n\n{quoted}{files}{thread}"[:limit]


def _ts(value: Any) -> tuple[int, int]:
    seconds, _, fraction = str(value or "0").partition(".")
    try:
        return int(seconds), int(fraction or 0)
    except ValueError:
        return 0, 0
