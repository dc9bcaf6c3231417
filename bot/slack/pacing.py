"""Slack's per-workspace budgets for the stream methods, shared by every live stream of a
process: what may be called now, when the next call may go, and 429 pauses.

Rate tiers (method reference pages): chat.startStream and chat.stopStream Tier 2 (20+ a
minute), chat.appendStream Tier 4 (100+ a minute), chat.update Tier 3 (50+ a minute). Slack
counts each method per workspace, so all the streams of a workspace draw on one budget: the
more streams are live, the further apart one stream's appends go (and the larger they get).

The tiers are minimums ("20+"): Slack allows more, in bursts, and says exactly when a
workspace is over (429 with Retry-After). So by default no budget is enforced here
(`None`), only Slack's 429 pauses, which every stream of the workspace then honours; a
budget set per method (STREAM_STARTS_PER_MINUTE, STREAM_APPENDS_PER_MINUTE) keeps a busy
workspace below its limit instead of learning it from 429s.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import defaultdict, deque
from collections.abc import Callable

START = "chat.startStream"
APPEND = "chat.appendStream"
STOP = "chat.stopStream"
UPDATE = "chat.update"


class StreamPacer:
    """Counts the calls of each stream method per workspace in a sliding window; one per
    process. A 429's Retry-After pauses that method for the whole workspace."""

    def __init__(
        self,
        *,
        start_per_minute: float | None = None,
        append_per_minute: float | None = None,
        stop_per_minute: float | None = None,
        update_per_minute: float | None = None,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # `window` shorter than a minute scales the budgets with it (tests).
        per_window = window / 60.0
        self._budget = {
            method: None if per_minute is None else per_minute * per_window
            for method, per_minute in (
                (START, start_per_minute),
                (APPEND, append_per_minute),
                (STOP, stop_per_minute),
                (UPDATE, update_per_minute),
            )
        }
        self._window = window
        self._clock = clock
        self._calls: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._paused_until: dict[tuple[str, str], float] = {}
        self._live: dict[str, int] = defaultdict(int)

    def may_start(self, team_id: str) -> bool:
        """Whether a stream may start in the workspace now. False when its start budget is
        spent or Slack asked it to wait: the caller answers that turn the old way."""
        return self.wait_time(team_id, START) <= 0

    def take(self, team_id: str, method: str) -> bool:
        """Count a call of `method` now, if the budget allows it; False if it does not."""
        if self.wait_time(team_id, method) > 0:
            return False
        if self._budget[method] is not None:
            self._calls[(team_id, method)].append(self._clock())
        return True

    def wait_time(self, team_id: str, method: str) -> float:
        """Seconds until a call of `method` fits the workspace's budget (0: now)."""
        now = self._clock()
        key = (team_id, method)
        wait = self._paused_until.get(key, now) - now
        budget = self._budget[method]
        if budget is None:
            return max(0.0, wait)
        calls = self._calls[key]
        while calls and calls[0] <= now - self._window:
            calls.popleft()
        if len(calls) >= max(1, math.floor(budget)):
            wait = max(wait, calls[0] + self._window - now)
        return max(0.0, wait)

    async def acquire(self, team_id: str, method: str, *, max_wait: float) -> None:
        """Wait (at most `max_wait` seconds) until a call of `method` fits, and count it.
        Past `max_wait` the call is counted anyway: Slack answers 429 if it is too many."""
        deadline = self._clock() + max_wait
        while not self.take(team_id, method):
            left = deadline - self._clock()
            if left <= 0:
                if self._budget[method] is not None:
                    self._calls[(team_id, method)].append(self._clock())
                return
            await asyncio.sleep(min(self.wait_time(team_id, method), left))

    def pause(self, team_id: str, method: str, seconds: float) -> None:
        """Slack answered 429: no call of `method` in the workspace for `seconds`."""
        key = (team_id, method)
        until = self._clock() + seconds
        self._paused_until[key] = max(self._paused_until.get(key, until), until)

    def gap(self, team_id: str) -> float:
        """Seconds between two appends of one stream, so that the workspace's live streams
        share its append budget (none enforced: no gap beyond the stream's own interval)."""
        budget = self._budget[APPEND]
        if budget is None:
            return 0.0
        return self._live[team_id] * self._window / budget

    def opened(self, team_id: str) -> None:
        """A stream of the workspace started taking appends."""
        self._live[team_id] += 1

    def closed(self, team_id: str) -> None:
        """A stream of the workspace takes no more appends."""
        self._live[team_id] = max(0, self._live[team_id] - 1)
        if not self._live[team_id]:
            del self._live[team_id]

    def live(self, team_id: str) -> int:
        """How many streams of the workspace take appends now."""
        return self._live.get(team_id, 0)
