"""The status line a turn shows while its run uses tools ("_Running code…_").

One message per turn, posted where the answer will go, edited as the activity changes and
deleted once the answer is delivered. Its ts is stored on the turn, so whichever process
delivers the answer can delete it. Cosmetic: failures are logged, never retried.
"""

from __future__ import annotations

from bot import messages
from bot.slack import SlackPoster
from storage import turns
from storage.db import Database
from storage.models import Turn


class StatusBoard:
    """Shows and clears the status lines of this process's turns."""

    def __init__(self, *, db: Database, poster: SlackPoster) -> None:
        self.db = db
        self.poster = poster
        # turn id → ts of the status message this process posted (saves a read on delivery).
        self._shown: dict[int, str] = {}

    async def show(self, turn: Turn, activity: str) -> None:
        assert turn.id is not None
        text = messages.TOOL_ACTIVITY.format(activity=activity[:1].upper() + activity[1:])
        known = self._shown.get(turn.id) or turn.status_ts
        ts = await self.poster.show_status(
            channel=turn.channel_id, thread_ts=turn.thread_ts, ts=known, text=text
        )
        if ts and ts != known:
            self._shown[turn.id] = turn.status_ts = ts
            async with self.db.session() as session:
                await turns.set_status_ts(session=session, turn_id=turn.id, ts=ts)

    async def clear(self, turn_id: int, *, channel: str, look_up: bool) -> None:
        """Delete the turn's status line, if it has one (`look_up`: ask the database too)."""
        ts = self._shown.pop(turn_id, None)
        if ts is None and look_up:
            async with self.db.session() as session:
                turn = await session.get(Turn, turn_id)
                ts = turn.status_ts if turn is not None else None
        if ts:
            await self.poster.delete_status(channel=channel, ts=ts)
