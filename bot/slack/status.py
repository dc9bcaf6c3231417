"""The status line a turn shows while its run uses tools ("_Running code…_").

One message per turn, posted where the answer will go, edited as the activity changes and
deleted once the answer is delivered. Its ts is stored on the turn, so whichever process
delivers the answer can delete it. Cosmetic: failures are logged, never retried.
"""

from __future__ import annotations

import logging

from bot import messages
from bot.slack.poster import SlackPoster
from storage import turns
from storage.db import Database
from storage.models import Turn

log = logging.getLogger(__name__)

# How many turns' status lines this process remembers: past it the oldest go (their ts is
# on the turn's row too), so turns this process never delivers (taken over by another
# process) cannot grow the memory without end.
MAX_REMEMBERED = 10_000


class StatusBoard:
    """Shows and clears the status lines of this process's turns."""

    def __init__(
        self, *, db: Database, poster: SlackPoster, max_remembered: int = MAX_REMEMBERED
    ) -> None:
        self.db = db
        self.poster = poster
        # turn id → ts of the status message this process posted (saves a read on delivery).
        # Emptied for a turn whenever its delivery ends, however it ends (`forget`).
        self._shown: dict[int, str] = {}
        self._max_remembered = max_remembered
        # The newest turn id dropped from `_shown` to keep it bounded: a turn up to it may
        # have a line this cache forgot, so its delivery asks the database.
        self._forgot_up_to = 0

    async def show(self, turn: Turn, activity: str) -> None:
        assert turn.id is not None
        text = messages.TOOL_ACTIVITY.format(activity=activity[:1].upper() + activity[1:])
        known = self._shown.get(turn.id) or turn.status_ts
        ts = await self.poster.show_status(
            channel=turn.channel_id, thread_ts=turn.thread_ts, ts=known, text=text
        )
        if ts and ts != known:
            self._remember(turn.id, ts)
            turn.status_ts = ts
            async with self.db.session() as session:
                await turns.set_status_ts(session=session, turn_id=turn.id, ts=ts)

    async def clear(self, turn_id: int, *, channel: str, look_up: bool) -> None:
        """Delete the turn's status line, if it has one (`look_up`: ask the database too)."""
        ts = self._shown.pop(turn_id, None)
        if ts is None and (look_up or turn_id <= self._forgot_up_to):
            async with self.db.session() as session:
                turn = await session.get(Turn, turn_id)
                ts = turn.status_ts if turn is not None else None
        if ts:
            await self.poster.delete_status(channel=channel, ts=ts)

    def forget(self, turn_id: int) -> None:
        """Drop what this process remembers of the turn's line (it stays in the database)."""
        self._shown.pop(turn_id, None)

    def remembers(self, turn_id: int) -> bool:
        """Whether this process holds the turn's line in memory (for tests)."""
        return turn_id in self._shown

    def _remember(self, turn_id: int, ts: str) -> None:
        self._shown[turn_id] = ts
        if len(self._shown) > self._max_remembered:
            oldest = next(iter(self._shown))
            del self._shown[oldest]
            self._forgot_up_to = max(self._forgot_up_to, oldest)
            log.debug("status lines: forgot turn %s's (over %d)", oldest, self._max_remembered)
