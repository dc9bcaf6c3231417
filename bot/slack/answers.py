"""This process's answers streaming into Slack: one live message per turn, opened on its
first text, recorded before it is relied on, handed to delivery at the end."""

from __future__ import annotations

import asyncio
import logging

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.pacing import StreamPacer
from bot.slack.streams import LiveAnswer
from storage import streams
from storage.db import Database
from storage.models import InboundMessage, Turn

log = logging.getLogger(__name__)


def is_direct(channel_id: str) -> bool:
    """A DM (channel ids of DMs start with D): streams there need no recipient."""
    return channel_id.startswith("D")


class AnswerStreams:
    """Opens, keeps and hands over the live answers of this process's turns."""

    def __init__(self, *, client: AsyncWebClient, pacer: StreamPacer, db: Database) -> None:
        self.client = client
        self.pacer = pacer
        self.db = db
        self._live: dict[int, LiveAnswer] = {}
        # Turns answered the old way (post when done): no stream is tried again for them.
        self._declined: set[int] = set()
        # Aborts in flight (a turn given up): kept so they are not collected mid-call.
        self._aborting: set[asyncio.Task[None]] = set()

    def live(self, turn: Turn, asked: list[InboundMessage]) -> LiveAnswer | None:
        """The turn's live answer, opened now if it may stream; None: post when done."""
        assert turn.id is not None
        found = self._live.get(turn.id)
        if found is not None or turn.id in self._declined:
            return found
        if not asked or turn.stream_ts is not None or not self.pacer.may_start(asked[-1].team_id):
            # A stream message from an earlier holder is never appended to again (what it
            # shows is not known here): delivery ends it with the final text.
            self._declined.add(turn.id)
            return None
        newest = asked[-1]
        # Slack streams only as a reply: into the thread of the turn (a mention's) or of the
        # newest message (a DM's), where every other part of the reply then goes too.
        thread_ts = turn.thread_ts or newest.message_ts
        turn_id = turn.id

        async def record(ts: str) -> None:
            async with self.db.session(single=True) as session:
                await streams.record_stream(
                    session=session, turn_id=turn_id, ts=ts, thread_ts=thread_ts
                )
            # From now on the reply's parts go to the stream's thread; until Slack has taken
            # the stream (and where it refuses streams) they go where they always did.
            turn.stream_ts, turn.stream_thread_ts = ts, thread_ts

        answer = LiveAnswer(
            self.client,
            self.pacer,
            team_id=newest.team_id,
            channel=turn.channel_id,
            thread_ts=thread_ts,
            recipient_user_id=None if is_direct(turn.channel_id) else newest.user_id,
            on_started=record,
        )
        self._live[turn_id] = answer
        return answer

    def take(self, turn_id: int) -> LiveAnswer | None:
        """The turn's live answer, handed to delivery (forgotten here)."""
        self._declined.discard(turn_id)
        return self._live.pop(turn_id, None)

    def drop(self, turn_id: int) -> None:
        """The turn went to another process: stop writing its answer (the new holder's
        delivery ends the message)."""
        self._declined.discard(turn_id)
        answer = self._live.pop(turn_id, None)
        if answer is not None:
            task = asyncio.create_task(answer.abort(), name=f"abort answer of turn {turn_id}")
            self._aborting.add(task)
            task.add_done_callback(self._aborting.discard)

    def streaming(self, turn_id: int) -> bool:
        """Whether this process writes the turn's answer into a stream now (for tests)."""
        return turn_id in self._live
