"""What tests turn and read of the fake Slack's streams, rate limits and agent sessions."""

from __future__ import annotations

from typing import Any

from tests.fakes import slack_streams
from tests.fakes.server import FakeServer
from tests.fakes.slack_events import agent_session_stopped_event
from tests.fakes.slack_store import JsonDict, SlackCall, SlackStore, StreamRec


class FakeSlackStreams(FakeServer[SlackStore]):
    """FakeSlack's stream side. Knob dicts (`stream_refusals`: channel or "*" → the error
    the stream methods answer; `rate_limits`: method → (calls, per seconds)) may be edited
    any time, as may the properties below."""

    def __init__(self, store: SlackStore, *args: Any, **kwargs: Any) -> None:
        super().__init__(store, *args, **kwargs)
        self.stream_refusals: dict[str, str] = store.stream_refusals
        self.rate_limits: dict[str, tuple[int, float]] = store.rate_limits

    # knobs -----------------------------------------------------------------------------
    @property
    def stream_idle_expiry(self) -> float | None:
        """Seconds without an append after which Slack ends a stream (None: never)."""
        with self._store.lock:
            return self._store.stream_idle_expiry

    @stream_idle_expiry.setter
    def stream_idle_expiry(self, seconds: float | None) -> None:
        with self._store.lock:
            self._store.stream_idle_expiry = seconds

    @property
    def stream_lifetime(self) -> float | None:
        """Seconds after its start at which Slack ends a stream, appends or not."""
        with self._store.lock:
            return self._store.stream_lifetime

    @stream_lifetime.setter
    def stream_lifetime(self, seconds: float | None) -> None:
        with self._store.lock:
            self._store.stream_lifetime = seconds

    @property
    def retry_after(self) -> float | None:
        """The Retry-After a 429 carries; None: whole seconds until a call is free again.
        (slack_sdk's RateLimitErrorRetryHandler reads it with int(): keep it whole there.)"""
        with self._store.lock:
            return self._store.retry_after

    @retry_after.setter
    def retry_after(self, seconds: float | None) -> None:
        with self._store.lock:
            self._store.retry_after = seconds

    def expire_stream(self, channel: str, ts: str) -> None:
        """End a stream now, as Slack does when its time is up."""
        with self._store.lock:
            slack_streams.end(self._store.streams[(channel, ts)], by="expiry")

    def press_stop(self, channel: str, thread_ts: str, *, user: str = "U0USER") -> JsonDict:
        """The user presses Stop: Slack stops the app's live streams in the thread; returns
        the `agent_session_stopped` event Slack then sends (wrap it in event_callback)."""
        with self._store.lock:
            stopped = slack_streams.stop_by_user(self._store, channel, thread_ts)
        return agent_session_stopped_event(
            user, channel=channel, thread_ts=thread_ts, streaming_message_ts=stopped
        )

    # inspection (copies, safe from any thread) ------------------------------------------
    def stream(self, channel: str, ts: str) -> StreamRec | None:
        """A streamed message's record: text, tasks, final blocks, state, timeline."""
        return self._read(lambda s: s.streams.get((channel, ts)))

    def streams(self, channel: str | None = None) -> list[StreamRec]:
        """Every stream started (in `channel`), in the order they started."""
        return self._read(lambda s: [r for r in s.streams.values() if channel in (None, r.channel)])

    def visible_text(self, channel: str, ts: str) -> str:
        """The markdown a message shows now, whether it was posted, streamed or updated."""

        def read(store: SlackStore) -> str:
            message = store.find_message(channel, ts)
            if message is None:
                raise KeyError(f"no message {ts} in {channel}")
            return slack_streams.visible_text(message)

        return self._read(read)

    def throttled(self, method: str | None = None) -> list[SlackCall]:
        """Calls answered 429 by a rate limit, in order."""
        return self._read(lambda s: [c for c in s.throttled if method in (None, c.method)])

    def sessions(self) -> dict[tuple[str, str], JsonDict]:
        """Agent sessions by (channel, thread_ts): their status and title."""
        return self._read(lambda s: s.sessions)

    def session_calls(self) -> list[JsonDict]:
        """agents.sessions.setStatus / rename calls that succeeded, in order."""
        return self._read(
            lambda s: [x for x in s.statuses if x["kind"] in ("session_status", "session_title")]
        )

    def _catch_up(self) -> None:
        slack_streams.catch_up(self._store)
