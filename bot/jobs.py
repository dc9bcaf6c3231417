"""Background work within a bound: a step takes a slot before it becomes a task.

At most `limit` steps run at once; up to `pending_limit` more wait as bare coroutines (no
task, no stack); past that a step is shed: closed unrun, and `spawn` says so. An overload
thus builds no backlog in memory. Shedding is safe because the work that matters is
durable: queued messages, turns and reply parts are rows, and the sweep picks them up
again; what is only cosmetic (the "working" reaction, a hint) is simply not shown.

aiojobs' `Scheduler(limit=, pending_limit=)` has the same shape, but its `spawn` is a
coroutine that waits while its queue is full, and the bridge's callers (Bolt listeners'
hand-over, scheduler jobs) must return at once; it has no non-waiting spawn.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)

Step = Coroutine[Any, Any, None]

# How often, at most, an overload is reported (a burst sheds thousands of steps).
_WARN_EVERY_SECONDS = 60.0
# After the grace, cancelled steps get this long to run their `finally` blocks.
_CANCEL_WAIT_SECONDS = 2.0


class Jobs:
    """This process's background steps: at most `limit` running, `pending_limit` waiting."""

    def __init__(self, *, limit: int, pending_limit: int) -> None:
        self.limit = limit
        self.pending_limit = pending_limit
        self._running: set[asyncio.Task[None]] = set()
        self._waiting: deque[tuple[Step, str]] = deque()
        self._closed = False
        self._shed_unreported = 0
        self._warned_at = -_WARN_EVERY_SECONDS

    @property
    def running(self) -> int:
        return len(self._running)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def spawn(self, step: Step, name: str) -> bool:
        """Run `step` now, or queue it; False (and `step` closed unrun) if neither fits."""
        if self._closed:
            step.close()
            return False
        if len(self._running) < self.limit:
            self._start(step, name)
        elif len(self._waiting) < self.pending_limit:
            self._waiting.append((step, name))
        else:
            step.close()
            self._report_shed()
            return False
        return True

    async def close(self, *, grace: float) -> None:
        """Take no more work, drop what waits, let running steps finish within `grace`
        seconds, then cancel the rest (their claims expire or are handed over)."""
        self._closed = True
        dropped = len(self._waiting)
        while self._waiting:
            step, _ = self._waiting.popleft()
            step.close()
        if dropped:
            log.info("stopping: %d waiting step(s) left for the sweep or the next process", dropped)
        if not self._running:
            return
        _, unfinished = await asyncio.wait(list(self._running), timeout=grace)
        for task in unfinished:
            task.cancel()
        if unfinished:
            await asyncio.wait(unfinished, timeout=_CANCEL_WAIT_SECONDS)

    def _start(self, step: Step, name: str) -> None:
        task = asyncio.get_running_loop().create_task(step, name=name)
        self._running.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())
        while self._waiting and not self._closed and len(self._running) < self.limit:
            self._start(*self._waiting.popleft())

    def _report_shed(self) -> None:
        self._shed_unreported += 1
        now = time.monotonic()
        if now - self._warned_at < _WARN_EVERY_SECONDS:
            return
        log.warning(
            "background work is full (%d running, %d waiting): %d step(s) shed; "
            "queued messages, turns and replies are picked up again by the sweep",
            len(self._running),
            len(self._waiting),
            self._shed_unreported,
        )
        self._warned_at, self._shed_unreported = now, 0
