"""An answer streamed into one Slack message as the model writes it (chat.startStream,
then chat.appendStream), ended so the message reads exactly as the posted reply part would.

Facts (method reference pages, docs.slack.dev/reference/methods/chat.*Stream): a stream is
a reply (`thread_ts`); outside DMs it needs `recipient_user_id` and `recipient_team_id`; a
stream takes its content in the shape it started with (here always `chunks`);
chat.stopStream takes final `chunks`, `blocks` (shown after the text) and `metadata`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.client import error_code, retry_after, stream_client
from bot.slack.pacing import APPEND, START, STOP, UPDATE, StreamPacer
from bot.slack.poster import UNREACHABLE
from bot.slack.render import MAX_PART
from bot.slack.stream_buffer import MAX_CALL_CHARS, ChunkBuffer, task_chunk, text_of
from bot.slack.stream_end import ENDED, end_stream, reply_metadata, stop_if_live, update_to_part

__all__ = ["LiveAnswer", "end_stream"]

log = logging.getLogger(__name__)

FLUSH_CHARS = 300  # a buffer this large goes as soon as the workspace's budget allows
FLUSH_INTERVAL = 0.8  # a smaller one waits this long since the last call
# How long a finishing stop or update waits for the workspace's budget; then it is sent
# anyway (Slack answers 429, and delivery tries again later).
FINISH_WAIT = 60.0
FINISH_TRIES = 3


class LiveAnswer:
    """One answer streaming into one Slack message, into `thread_ts`, started by its first
    text or task card. `write` and `task` never block: a flusher task sends what they buffer,
    one call at a time. `on_started(ts)` is awaited as soon as Slack answers the start,
    before anything else is sent; if it raises, nothing more is appended (`finish` still ends
    the message). `recipient_user_id` (the asker) is needed outside DMs. Call `finish` or
    `abort` once: the flusher task lives until then."""

    def __init__(
        self,
        client: AsyncWebClient,
        pacer: StreamPacer,
        *,
        team_id: str,
        channel: str,
        thread_ts: str,
        recipient_user_id: str | None,
        on_started: Callable[[str], Awaitable[None]],
        flush_chars: int = FLUSH_CHARS,
        flush_interval: float = FLUSH_INTERVAL,
        max_chars: int = MAX_PART,
    ) -> None:
        self.ts: str | None = None  # the stream message, once started
        self.shown = ""  # the markdown Slack has confirmed
        self.broken = False  # Slack refused (or may have missed) a call: nothing more goes
        self._client = stream_client(client)
        self._pacer = pacer
        self._team_id = team_id
        self._channel = channel
        self._thread_ts = thread_ts
        self._recipient = recipient_user_id
        self._on_started = on_started
        self._flush_chars = flush_chars
        self._flush_interval = flush_interval
        # Past what one message holds nothing more is sent: delivery posts the rest of
        # the answer as its next parts.
        self._buffer = ChunkBuffer(max_chars)
        self._closing = False
        self._wake = asyncio.Event()
        self._last_sent = 0.0
        self._flusher = asyncio.create_task(self._run(), name=f"stream in {channel}")

    def write(self, text: str) -> None:
        """Add answer text (sent by the flusher)."""
        if not self._closing and self._buffer.add_text(text):
            self._wake.set()

    def task(
        self, step_id: str, title: str, status: str, sources: Sequence[tuple[str, str]] = ()
    ) -> None:
        """Show or move a task card (status pending, in_progress, complete or error);
        `sources` are (url, text) pairs."""
        if not self._closing:
            self._buffer.add_task(task_chunk(step_id, title, status, sources))
            self._wake.set()

    async def finish(
        self, markdown: str, *, reply_id: int, extra_blocks: list[dict[str, Any]]
    ) -> str | None:
        """End the message so it reads as the reply part `markdown` (its markdown block,
        fallback text and metadata) with `extra_blocks` after it; its ts, or None if the
        stream never started (the caller posts the part). Slack failures other than "no
        longer streaming" raise as poster.post_reply's do."""
        await self._close()
        if self.ts is None:
            return None
        ts, rest = self.ts, markdown[len(self.shown) :]
        if not self.broken and markdown.startswith(self.shown) and len(rest) <= MAX_CALL_CHARS:
            # What Slack shows is the part's beginning: the rest and the last state of the
            # cards close it, in one call.
            chunks = [{"type": "markdown_text", "text": rest}] if rest else []
            try:
                await self._paced(
                    STOP,
                    lambda: self._client.chat_stopStream(
                        channel=self._channel,
                        ts=ts,
                        chunks=chunks + self._buffer.tasks() or None,
                        blocks=extra_blocks or None,
                        metadata=reply_metadata(reply_id),
                    ),
                )
                return ts
            except SlackApiError as exc:
                if error_code(exc) not in ENDED:
                    raise
                log.info("stream %s ended before its last text; updating it", ts)
        else:
            await self._paced(
                STOP, lambda: stop_if_live(self._client, channel=self._channel, ts=ts)
            )
        await self._paced(
            UPDATE,
            lambda: update_to_part(
                self._client,
                channel=self._channel,
                ts=ts,
                markdown=markdown,
                reply_id=reply_id,
                extra_blocks=extra_blocks,
            ),
        )
        return ts

    async def abort(self) -> None:
        """Stop sending; leave the message as Slack shows it (whoever delivers the answer
        ends it)."""
        await self._close()

    async def _close(self) -> None:
        self._closing = True
        self._wake.set()
        await asyncio.shield(self._flusher)

    async def _paced(self, method: str, call: Callable[[], Awaitable[Any]]) -> None:
        """A finishing call, within the workspace's budget; a 429 pauses the method and
        the call is tried again (FINISH_TRIES in all)."""
        for attempt in range(FINISH_TRIES):
            await self._pacer.acquire(self._team_id, method, max_wait=FINISH_WAIT)
            try:
                await call()
                return
            except SlackApiError as exc:
                wait = retry_after(exc)
                if wait is None or attempt == FINISH_TRIES - 1:
                    raise
                self._pacer.pause(self._team_id, method, wait)

    async def _run(self) -> None:
        """The flusher: start the stream with the first content, then append."""
        if not await self._start():
            return
        self._pacer.opened(self._team_id)
        try:
            while await self._due():
                await self._append()
        finally:
            self._pacer.closed(self._team_id)

    async def _start(self) -> bool:
        """Start the stream with the first content, at once; False if it did not start
        (closing first, no budget, refused) or on_started failed."""
        while not self._buffer:
            if self._closing:
                return False
            self._wake.clear()
            await self._wake.wait()
        if self._closing or not self._pacer.take(self._team_id, START):
            return False  # the answer is posted when done instead
        chunks = self._buffer.take()
        recipient: dict[str, str] = {}
        if self._recipient:
            recipient = {"recipient_user_id": self._recipient, "recipient_team_id": self._team_id}
        self._last_sent = asyncio.get_running_loop().time()
        try:
            response = await self._client.chat_startStream(
                channel=self._channel, thread_ts=self._thread_ts, chunks=chunks, **recipient
            )
        except SlackApiError as exc:
            self._refused(START, exc)
            return False
        except UNREACHABLE as exc:
            # It may have started: a message showing this first text may be left behind.
            log.warning("chat.startStream in %s failed (%s)", self._channel, type(exc).__name__)
            return False
        self.ts = str(response["ts"])
        self.shown += text_of(chunks)
        try:
            await self._on_started(self.ts)
        except Exception:
            # Aborted: nothing more is appended. `finish` still ends the message as the
            # part, else it would be left showing this first text beside the posted part.
            log.exception("recording stream %s failed; streaming no more", self.ts)
            self.broken = True
            return False
        return True

    async def _due(self) -> bool:
        """Wait until the buffer may go: large enough or old enough, and within the
        workspace's budget. False once the answer is closing or broken."""
        loop = asyncio.get_running_loop()
        while not (self._closing or self.broken):
            wait: float | None = None
            if self._buffer:
                gap = self._pacer.gap(self._team_id)
                big = self._buffer.text_chars() >= self._flush_chars
                spacing = gap if big else max(self._flush_interval, gap)
                wait = max(
                    self._last_sent + spacing - loop.time(),
                    self._pacer.wait_time(self._team_id, APPEND),
                )
                if wait <= 0 and self._pacer.take(self._team_id, APPEND):
                    return True
            self._wake.clear()
            try:
                async with asyncio.timeout(None if wait is None else max(wait, 0.005)):
                    await self._wake.wait()
            except TimeoutError:
                pass
        return False

    async def _append(self) -> None:
        assert self.ts is not None
        chunks = self._buffer.take()
        self._last_sent = asyncio.get_running_loop().time()
        try:
            await self._client.chat_appendStream(channel=self._channel, ts=self.ts, chunks=chunks)
        except SlackApiError as exc:
            wait = retry_after(exc)
            if wait is None:
                self._refused(APPEND, exc)
                return
            # Not shown: it goes again, with what came since, once the pause is over.
            self._pacer.pause(self._team_id, APPEND, wait)
            self._buffer.put_back(chunks)
            return
        except UNREACHABLE as exc:
            # Slack may or may not show it: what it shows is no longer known.
            log.info("chat.appendStream to %s failed (%s)", self.ts, type(exc).__name__)
            self.broken = True
            return
        self.shown += text_of(chunks)

    def _refused(self, method: str, exc: SlackApiError) -> None:
        wait = retry_after(exc)
        if wait is not None:
            self._pacer.pause(self._team_id, method, wait)
        log.info("%s in %s refused: %s", method, self._channel, error_code(exc))
        self.broken = True
