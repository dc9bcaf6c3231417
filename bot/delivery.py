"""Deliver finished turns: post each reply part to Slack once, in order, then clear the reaction."""

from __future__ import annotations

import logging
from datetime import timedelta

import aiohttp
from slack_sdk.errors import SlackApiError

from bot.engine import backoff
from bot.slack import PERMANENT_ERRORS, SlackPoster, error_code
from storage import replies, turns
from storage.db import Database
from storage.models import Reply, utcnow

log = logging.getLogger(__name__)


class Deliverer:
    """Posts a turn's outbox rows; a crash leaves the rest pending for any process."""

    def __init__(self, *, db: Database, poster: SlackPoster, owner: str, lease: timedelta) -> None:
        self.db = db
        self.poster = poster
        self.owner = owner
        self.lease = lease
        self._in_flight: set[int] = set()

    async def deliver(self, turn_id: int) -> None:
        if turn_id in self._in_flight:
            return
        self._in_flight.add(turn_id)
        try:
            await self._deliver(turn_id)
        finally:
            self._in_flight.discard(turn_id)

    async def _deliver(self, turn_id: int) -> None:
        async with self.db.session() as session:
            parts = await replies.claim_replies(
                session=session, turn_id=turn_id, owner=self.owner, lease=self.lease
            )
        for part in parts:
            if not await self._post(part):
                return
        if parts:
            await self._clear_working(turn_id)

    async def _post(self, part: Reply) -> bool:
        """Post one part; False when the rest of the turn must wait or stop."""
        assert part.id is not None
        try:
            ts = await self.poster.post_reply(
                channel=part.channel_id,
                thread_ts=part.thread_ts,
                markdown=part.markdown,
                reply_id=part.id,
            )
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            code = error_code(exc) if isinstance(exc, SlackApiError) else type(exc).__name__
            async with self.db.session() as session:
                if code in PERMANENT_ERRORS:
                    log.error(
                        "reply %s to %s cannot be posted (%s); giving up on this turn's reply",
                        part.id,
                        part.channel_id,
                        code,
                    )
                    await replies.mark_failed(session=session, reply_id=part.id, error=code)
                else:
                    retry_at = utcnow() + timedelta(seconds=backoff(part.attempts, cap=300))
                    log.warning("reply %s: Slack said %s; retrying at %s", part.id, code, retry_at)
                    await replies.postpone(
                        session=session, reply_id=part.id, until=retry_at, error=code
                    )
            return False
        async with self.db.session() as session:
            await replies.mark_posted(session=session, reply_id=part.id, ts=ts)
        return True

    async def _clear_working(self, turn_id: int) -> None:
        async with self.db.session() as session:
            answered = await turns.turn_messages(session=session, turn_id=turn_id)
        for message in answered:
            await self.poster.set_working(
                channel=message.channel_id, ts=message.message_ts, working=False
            )
