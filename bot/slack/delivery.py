"""Deliver finished turns: post each reply part to Slack once, in order, then clear the reaction."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Awaitable
from datetime import UTC, timedelta
from typing import Any, Protocol

import aiohttp
from slack_sdk.errors import SlackApiError

from bot import messages
from bot.backends.citations import GeneratedFile
from bot.backoff import backoff
from bot.errors import BackendError, FileTooLarge
from bot.file_rules import MB
from bot.slack.client import PERMANENT_ERRORS, error_code
from bot.slack.feedback import feedback_blocks
from bot.slack.poster import SlackPoster
from bot.slack.reactions import ReactedMessages
from bot.slack.status import StatusBoard
from bot.slack.streams import LiveAnswer, end_stream
from bot.turns.leases import LeaseKeeper
from storage import outbox, streams, turns
from storage.db import Database
from storage.models import InboundMessage, Reply, utcnow

log = logging.getLogger(__name__)

SlackFailure = (SlackApiError, aiohttp.ClientError, TimeoutError)


def failure_code(exc: Exception) -> str:
    return error_code(exc) if isinstance(exc, SlackApiError) else type(exc).__name__


class Download(Protocol):
    """Reads a file the assistant made, stopping (FileTooLarge) past `max_bytes`."""

    def __call__(self, file: GeneratedFile, *, max_bytes: int) -> Awaitable[bytes]: ...


class Deliverer:
    """Posts a turn's outbox rows; a crash leaves the rest for any process to finish."""

    def __init__(
        self,
        *,
        db: Database,
        poster: SlackPoster,
        owner: str,
        lease: timedelta,
        download: Download | None = None,
        status: StatusBoard | None = None,
        max_file_bytes: int = 25 * MB,
        keeper: LeaseKeeper | None = None,
        reacted: ReactedMessages | None = None,
    ) -> None:
        self.db = db
        # Renews the lease on the parts while they are posted (an upload can take a while).
        self.keeper = keeper or LeaseKeeper(db=db, owner=owner, lease=lease)
        self.poster = poster
        self.owner = owner
        self.lease = lease
        self.download = download
        # Set (STREAMING=on): only these messages got the "working" reaction to remove.
        self.reacted = reacted
        self.status = status
        # Files the assistant made are capped as files from Slack are (MAX_FILE_MB): a file
        # is held in memory whole while it is uploaded.
        self.max_file_bytes = max_file_bytes
        # Turns whose delivery runs in this process now; emptied however the delivery ends.
        self._in_flight: set[int] = set()

    def in_flight(self, turn_id: int) -> bool:
        """Whether this process is delivering the turn's reply now (for tests)."""
        return turn_id in self._in_flight

    async def deliver_new(
        self,
        parts: list[Reply],
        answered: list[InboundMessage],
        *,
        live: LiveAnswer | None = None,
        stream_ts: str | None = None,
    ) -> None:
        """Post the parts a turn just produced (leased to this process at creation). The
        first part ends the message the answer streamed into: `live`, this process's
        stream, or `stream_ts`, one an earlier holder of the turn started."""
        if parts:
            await self._deliver(
                parts[0].turn_id, parts, answered, fresh=True, live=live, stream_ts=stream_ts
            )
        elif live is not None:
            await live.abort()

    async def deliver(self, turn_id: int) -> None:
        """Post what is left of a turn's reply: after a crash, a retry, or another process."""
        async with self.db.session() as session:
            parts = await outbox.claim_replies(
                session=session, turn_id=turn_id, owner=self.owner, lease=self.lease
            )
            answered = await turns.turn_messages(session=session, turn_id=turn_id) if parts else []
            # The answer may have streamed into a message (by a process that is gone).
            first = parts[0].seq == 0 if parts else False
            streamed = await streams.stream_of(session=session, turn_id=turn_id) if first else None
        stream_ts = streamed.stream_ts if streamed is not None else None
        await self._deliver(turn_id, parts, answered, fresh=False, stream_ts=stream_ts)

    async def _deliver(
        self,
        turn_id: int,
        parts: list[Reply],
        answered: list[InboundMessage],
        *,
        fresh: bool,
        live: LiveAnswer | None = None,
        stream_ts: str | None = None,
    ) -> None:
        if not parts or turn_id in self._in_flight:
            if live is not None:
                await live.abort()
            return
        self._in_flight.add(turn_id)
        try:
            with self.keeper.delivering(turn_id, parts):
                for index, part in enumerate(parts):
                    # A post is not idempotent: only while this process still holds the parts.
                    if not await self.keeper.fence_parts(parts[index:]):
                        log.warning("turn %s: another process took over its reply", turn_id)
                        if live is not None:
                            await live.abort()
                        return
                    if part.seq == 0 and (live is not None or stream_ts is not None):
                        posted = await self._end_stream(part, live, stream_ts)
                    else:
                        posted = await self._post(part, check_first=not fresh)
                    if not posted:
                        return
            if self.status is not None:
                await self.status.clear(turn_id, channel=parts[0].channel_id, look_up=not fresh)
            for message in answered:
                if self.reacted is None or self.reacted.take(
                    message.channel_id, message.message_ts
                ):
                    await self.poster.set_working(
                        channel=message.channel_id, ts=message.message_ts, working=False
                    )
        finally:
            # Whatever ended the delivery (all posted, a part postponed or failed, another
            # process taking over, an exception), this process keeps nothing of the turn:
            # a later delivery reads what it needs from the database.
            self._in_flight.discard(turn_id)
            if self.status is not None:
                self.status.forget(turn_id)

    async def _end_stream(self, part: Reply, live: LiveAnswer | None, ts: str | None) -> bool:
        """The answer's first part ends the message it streamed into: what Slack shows
        becomes exactly this part (the rest of it sent, or the message updated to it).
        Repeating this after a crash shows the same text: nothing appears twice."""
        assert part.id is not None
        extra = self._extra_blocks(part)
        try:
            if live is not None:
                ended = await live.finish(part.markdown, reply_id=part.id, extra_blocks=extra)
                if ended is None:  # the stream never started: post the part as ever
                    return await self._post(part, check_first=False)
            else:
                assert ts is not None
                ended = await end_stream(
                    self.poster.client,
                    channel=part.channel_id,
                    ts=ts,
                    markdown=part.markdown,
                    reply_id=part.id,
                    extra_blocks=extra,
                )
        except SlackFailure as exc:
            await self._failed(part, failure_code(exc))
            return False
        async with self.db.session(single=True) as session:
            await outbox.mark_posted(session=session, reply_id=part.id, ts=ended)
        return True

    def _extra_blocks(self, part: Reply) -> list[dict[str, Any]]:
        """The feedback buttons, on the part that ends an answer."""
        if not part.feedback:
            return []
        return feedback_blocks(turn_id=part.turn_id, assistant=part.feedback)

    async def _post(self, part: Reply, *, check_first: bool) -> bool:
        """Post one part; False when the rest of the turn must wait or stop."""
        assert part.id is not None
        if part.file_ref:
            return await self._upload(part, check_first=check_first)
        try:
            # A part not posted by the process that created it may have reached Slack
            # anyway (crash, lost answer, 5xx): Slack is asked, by the part's metadata.
            found = await self._find_earlier(part) if check_first else None
            ts = found or await self.poster.post_reply(
                channel=part.channel_id,
                thread_ts=part.thread_ts,
                markdown=part.markdown,
                reply_id=part.id,
                extra_blocks=self._extra_blocks(part),
            )
        except SlackFailure as exc:
            await self._failed(part, failure_code(exc))
            return False
        if found:
            log.info("reply %s was already in Slack as %s; not posting it again", part.id, found)
        async with self.db.session(single=True) as session:
            await outbox.mark_posted(session=session, reply_id=part.id, ts=ts)
        return True

    async def _upload(self, part: Reply, *, check_first: bool) -> bool:
        """Upload a file the assistant made. A file OpenAI no longer has, one over
        MAX_FILE_MB, or an app without `files:write` gets a one-line note in its place: the
        user learns it existed."""
        assert part.id is not None and part.file_ref is not None
        file = GeneratedFile(**json.loads(part.file_ref))
        # Downloaded before looking for an earlier upload: a read, safe to repeat, and the
        # size tells this part's upload from an earlier turn's file of the same name.
        got = await self._download(part, file)
        if got is None:
            return False
        content, reason = (got, None) if isinstance(got, bytes) else (None, got)
        try:
            size = len(content) if content is not None else None
            found = await self._find_earlier(part, file, size) if check_first else None
            if found:
                log.info("reply %s: %s was already uploaded", part.id, file.filename)
            elif content is not None:
                found = await self.poster.upload_file(
                    channel=part.channel_id,
                    thread_ts=part.thread_ts,
                    filename=file.filename,
                    content=content,
                )
        except SlackFailure as exc:
            if failure_code(exc) != "missing_scope":
                await self._failed(part, failure_code(exc))
                return False
            log.error(
                "reply %s: cannot upload %s: the app lacks files:write", part.id, file.filename
            )
            found, reason = None, messages.FILE_NO_UPLOAD_SCOPE
        if found is None:
            assert reason is not None
            found = await self._note(part, file, reason, check_first=check_first)
        if found is None:
            return False
        async with self.db.session(single=True) as session:
            await outbox.mark_posted(session=session, reply_id=part.id, ts=found)
        return True

    async def _download(self, part: Reply, file: GeneratedFile) -> bytes | str | None:
        """The file's bytes; or the reason a note goes instead; or None: OpenAI failed for
        now, and the part is postponed."""
        try:
            if self.download is None:
                raise BackendError("no downloader", transient=False, code="unsupported")
            return await self.download(file, max_bytes=self.max_file_bytes)
        except FileTooLarge:
            log.warning(
                "reply %s: %s is larger than MAX_FILE_MB; a note goes in its place",
                part.id,
                file.filename,
            )
            limit = f"{math.floor(self.max_file_bytes * 10 / MB) / 10:g} MB"
            return messages.FILE_OVER_LIMIT.format(limit=limit)
        except BackendError as exc:
            if exc.transient:
                await self._failed(part, f"openai {exc.code}")
                return None
            log.warning("reply %s: OpenAI cannot hand over %s: %s", part.id, file.filename, exc)
            return messages.FILE_GONE_AT_OPENAI

    async def _note(
        self, part: Reply, file: GeneratedFile, reason: str, *, check_first: bool
    ) -> str | None:
        """Post a note instead of the file (unless an earlier try did: it carries the part's
        metadata too); its ts, or None if that failed (handled)."""
        assert part.id is not None
        note = messages.FILE_NOT_UPLOADED.format(name=file.filename, reason=reason)
        try:
            found = await self._find_earlier(part) if check_first else None
            return found or await self.poster.post_reply(
                channel=part.channel_id, thread_ts=part.thread_ts, markdown=note, reply_id=part.id
            )
        except SlackFailure as failure:
            await self._failed(part, failure_code(failure))
            return None

    async def _find_earlier(
        self, part: Reply, file: GeneratedFile | None = None, size: int | None = None
    ) -> str | None:
        """Whether Slack already has this part (a post by its metadata, an upload by its
        file's name and `size`) since it was first sent: its ts or file id. A failed look is
        logged and counts as "not found", unless Slack said the channel can never take it."""
        assert part.id is not None
        sent = part.sending_at or part.created_at
        # SQLite hands timestamps back without their zone; they are UTC, not local time.
        since = (sent if sent.tzinfo else sent.replace(tzinfo=UTC)).timestamp()
        channel, thread_ts = part.channel_id, part.thread_ts
        try:
            if file is not None:
                return await self.poster.find_upload(
                    channel=channel,
                    thread_ts=thread_ts,
                    filename=file.filename,
                    size=size,
                    since=since,
                )
            return await self.poster.find_reply(
                channel=channel, thread_ts=thread_ts, reply_id=part.id, since=since
            )
        except SlackFailure as exc:
            if isinstance(exc, SlackApiError) and error_code(exc) in PERMANENT_ERRORS:
                raise
            what = "upload" if file is not None else "post"
            log.warning(
                "reply %s: could not look for an earlier %s (%s)", part.id, what, failure_code(exc)
            )
            return None

    async def _failed(self, part: Reply, code: str) -> None:
        assert part.id is not None
        if code not in PERMANENT_ERRORS:
            retry_at = utcnow() + timedelta(seconds=backoff(part.attempts, cap=300))
            log.warning("reply %s: Slack said %s; retrying at %s", part.id, code, retry_at)
            async with self.db.session() as session:
                await outbox.postpone(session=session, reply_id=part.id, until=retry_at, error=code)
            return
        log.error(
            "reply %s to %s cannot be posted (%s); giving up on this turn's reply",
            part.id,
            part.channel_id,
            code,
        )
        async with self.db.session() as session:
            await outbox.mark_failed(session=session, reply_id=part.id, error=code)
        # The turn's reply ends here, so its status line goes too, where Slack still lets it.
        if self.status is not None:
            await self.status.clear(part.turn_id, channel=part.channel_id, look_up=True)
