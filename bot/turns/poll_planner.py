"""When to poll a running turn next: aimed at when runs of that assistant usually finish.

Polling at a fixed interval trades load against delay. Runs of one assistant take
similar times, so the planner keeps the recent durations and polls sparsely until the
usual finishing time (three quarters of the way, then at it), then closely, then backs
off: few polls per turn and a reply
noticed soon after it is ready. It is an in-memory estimate only: a fresh process
starts with the plain back-off schedule.
"""

from __future__ import annotations

import statistics
from collections import defaultdict, deque

_SAMPLES = 50


class PollPlanner:
    """Plans the delay before a turn's next poll."""

    def __init__(self, *, base: float, ceiling: float) -> None:
        self.base = base
        self.ceiling = ceiling
        self._durations: defaultdict[str, deque[float]] = defaultdict(
            lambda: deque(maxlen=_SAMPLES)
        )

    def record(self, assistant: str, seconds: float, *, running_at: float | None = None) -> None:
        """A run of `assistant` was seen finished `seconds` after it started (and, if known,
        still running `running_at` seconds after it started, at the poll before).

        The run ended somewhere between the two polls: the middle is recorded. Recording
        the poll that saw it finished would learn the detection delay too, and, since the
        next runs are polled at what was learned, keep it (2.13 s learned for 2.0 s runs,
        each found 0.13 s late; `tests/bot/turns/test_poll_planner.py`).
        """
        if running_at is not None and running_at < seconds:
            seconds = (running_at + seconds) / 2
        self._durations[assistant].append(seconds)

    def typical(self, assistant: str) -> float | None:
        samples = self._durations.get(assistant)
        return statistics.median(samples) if samples else None

    def next_delay(self, assistant: str, elapsed: float) -> float:
        """Seconds to wait before the next poll of a run started `elapsed` seconds ago."""
        typical = self.typical(assistant)
        if typical is not None and elapsed < typical:
            remaining = typical - elapsed
            step = remaining if remaining <= 2 * self.base else remaining * 0.75
            return max(0.05, step)
        since = elapsed - typical if typical is not None else elapsed
        return min(self.ceiling, max(self.base if typical is None else 0.1, since * 0.25))
