"""A streamed run: its server-sent events read and fed to the turn, resumed after a drop.

A stream is one event source beside the polls (`running.py`): while it flows the polls
wait, and when it is lost for good (a resume refused, too many drops, a silence past the
reader's idle timeout) the turn is simply polled again, as every turn is. Nothing of a
stream is needed after a restart or a takeover: the new holder polls (or resumes), and the
Slack message the stream wrote is ended by whoever delivers the reply.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from bot.assistants import Assistant
from bot.backends.base import NO_BRIEF, TurnBrief, UserMessage
from bot.backends.streams import StreamEnd, TextDelta
from bot.errors import BackendError
from bot.functions.calls import ToolOutput
from bot.turns.context import TurnContext
from bot.turns.events import Progress, RunEvent, event_of
from bot.turns.held import HeldTurn
from storage.models import Conversation

if TYPE_CHECKING:
    from bot.backends.streams import RunStream

log = logging.getLogger("bot.engine")

# A streamed turn is looked at by a poll only this long after its stream last went quiet
# in this process: the stream reports the end itself, and the reader's idle timeout hands
# a silent stream back to the polls.
STREAM_WATCH = timedelta(seconds=15)
# Drops of one stream resumed (`starting_after`) before the turn falls back to polls.
MAX_RESUMES = 3


@runtime_checkable
class StreamingBackend(Protocol):
    """A backend whose runs can be created streamed and their streams resumed."""

    async def start_run_streamed(
        self,
        *,
        conversation_id: str,
        assistant: Assistant,
        messages: list[UserMessage],
        brief: TurnBrief = NO_BRIEF,
    ) -> RunStream | str: ...

    async def submit_tool_outputs_streamed(
        self,
        *,
        conversation_id: str,
        run_id: str,
        assistant: Assistant,
        outputs: list[ToolOutput],
        brief: TurnBrief = NO_BRIEF,
    ) -> RunStream | str: ...

    async def resume_stream(self, run_id: str, *, after: int) -> RunStream: ...


def streaming_backend(ctx: TurnContext, conversation: Conversation) -> StreamingBackend | None:
    """The conversation's backend, if its runs are to be streamed (STREAMING=on)."""
    backend = ctx.backend_for(conversation)
    if ctx.streaming and isinstance(backend, StreamingBackend):
        return backend
    return None


class StreamReader:
    """Reads one run's stream into the turn: text and steps to the view, the end as an event."""

    def __init__(self, ctx: TurnContext) -> None:
        self.ctx = ctx

    async def read(self, held: HeldTurn, stream: RunStream) -> RunEvent | None:
        """Until the run ends: its end as an event; None when the stream is lost (the polls
        take over from there)."""
        backend = streaming_backend(self.ctx, held.conversation)
        resumes = 0
        while True:
            try:
                return await self._drain(held, stream)
            except BackendError as exc:
                lost = exc
            finally:
                await stream.aclose()
            if not lost.transient or backend is None or resumes >= MAX_RESUMES:
                log.warning(
                    "turn %s: stream of %s lost (%s); polling", held.id, stream.run_id, lost
                )
                return None
            resumes += 1
            log.info(
                "turn %s: stream of %s dropped (%s); resuming after event %s",
                held.id,
                stream.run_id,
                lost,
                stream.last_sequence,
            )
            try:
                stream = await backend.resume_stream(stream.run_id, after=stream.last_sequence)
            except BackendError as refused:
                log.warning("turn %s: resume refused (%s); polling", held.id, refused)
                return None

    async def _drain(self, held: HeldTurn, stream: RunStream) -> RunEvent:
        """Feed the stream's text and steps to the view; its end as an event."""
        view = self.ctx.view
        async for item in stream:
            if isinstance(item, StreamEnd):
                return event_of(item.state)
            if isinstance(item, TextDelta):
                held.streamed_text += item.text
                await view.progress(held.turn, Progress(text=item.text), held.messages)
            else:
                step = Progress(activity=item.title, step=item)
                await view.progress(held.turn, step, held.messages)
        raise BackendError("stream ended early", transient=True, code="stream_dropped")
