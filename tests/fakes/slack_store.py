"""In-memory state of the fake Slack Web API and the knobs tests turn."""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

JsonDict = dict[str, Any]

TEAM_ID = "T0TEST"
BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
APP_ID = "A0TEST"
DEFAULT_SCOPES = (
    "app_mentions:read,assistant:write,channels:history,channels:read,chat:write,commands,"
    "groups:history,groups:read,im:history,im:read,im:write,reactions:write,users:read,"
    "files:read,files:write"
)


class SlackError(Exception):
    """Raised by a method to answer HTTP 200 {"ok": false, "error": error}."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


Method = Callable[["SlackStore", dict[str, Any]], JsonDict]


@dataclass(frozen=True)
class SlackCall:
    """One Web API call as received: method name, decoded params, lower-cased headers."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]


@dataclass(frozen=True)
class Upload:
    """A file uploaded through files.getUploadURLExternal + completeUploadExternal."""

    file_id: str
    filename: str
    content: bytes
    channel: str | None
    thread_ts: str | None
    title: str | None = None
    initial_comment: str | None = None


@dataclass
class FileRec:
    file: JsonDict
    content: bytes = b""
    uploaded: bool = False
    completed: bool = False


@dataclass
class StreamRec:
    """One message written by chat.startStream / appendStream / stopStream: what it shows,
    its task cards, and how it ended."""

    channel: str
    ts: str
    thread_ts: str | None
    recipient_user_id: str | None
    recipient_team_id: str | None
    started_at: float
    last_append_at: float
    # The shape the stream's content came in first ("markdown_text" or "chunks"): Slack
    # answers streaming_mode_mismatch to a later call in the other shape.
    mode: str | None = None
    state: str = "streaming"  # streaming | stopped | expired
    ended_by: str | None = None  # "app" (chat.stopStream), "user" (Stop button), "expiry"
    text: str = ""  # the markdown shown so far, in order
    tasks: dict[str, JsonDict] = field(default_factory=dict)  # task_update by id, last wins
    plan_title: str | None = None
    final_blocks: list[Any] | None = None
    # (time.monotonic(), len(text)) each time the visible text changed.
    timeline: list[tuple[float, int]] = field(default_factory=list)


@dataclass
class SlackStore:
    """Everything the fake remembers; mutate only while holding `lock`."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    base_url: str = ""
    bot_token: str = "xoxb-test-token"
    app_token: str = "xapp-test-token"
    scopes: str = DEFAULT_SCOPES
    channel_errors: dict[str, str] = field(default_factory=dict)
    latency: dict[str, float] = field(default_factory=dict)
    users: dict[str, JsonDict] = field(default_factory=dict)
    calls: list[SlackCall] = field(default_factory=list)
    messages: dict[str, list[JsonDict]] = field(default_factory=lambda: defaultdict(list))
    posts: list[tuple[str, JsonDict]] = field(default_factory=list)
    ephemerals: list[JsonDict] = field(default_factory=list)
    reactions: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    statuses: list[JsonDict] = field(default_factory=list)
    # agents.sessions.*: (channel, thread_ts) → {"status", "title"}.
    sessions: dict[tuple[str, str], JsonDict] = field(default_factory=dict)
    files: dict[str, FileRec] = field(default_factory=dict)
    uploads: list[Upload] = field(default_factory=list)
    response_url_posts: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    # Streams: by (channel, ts); knobs: channel (or "*") → the error the stream methods
    # answer there; seconds without an append (or since the start) after which a stream ends.
    streams: dict[tuple[str, str], StreamRec] = field(default_factory=dict)
    stream_refusals: dict[str, str] = field(default_factory=dict)
    stream_idle_expiry: float | None = None
    stream_lifetime: float | None = None
    # Rate limits: method → (calls, per seconds), per workspace (the fake has one team).
    rate_limits: dict[str, tuple[int, float]] = field(default_factory=dict)
    rate_log: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))
    retry_after: float | None = None  # Retry-After sent with a 429; None: as Slack computes it
    throttled: list[SlackCall] = field(default_factory=list)

    def find_message(self, channel: str, ts: str) -> JsonDict | None:
        for message in self.messages.get(channel, []):
            if message["ts"] == ts:
                return message
        return None

    def check_channel(self, channel: Any) -> str:
        if not channel or not isinstance(channel, str):
            raise SlackError("channel_not_found")
        error = self.channel_errors.get(channel)
        if error:
            raise SlackError(error)
        return channel
