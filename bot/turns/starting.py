"""Starting a turn's run: its conversation, its input (files included), the create — or a
run that a crash or a lost answer hid, found in the conversation before anything is created.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from bot import messages
from bot.backends import RunState, RunStatus
from bot.backends.base import Backend, Pending, Recovered, UserMessage
from bot.backoff import backoff
from bot.errors import BackendError, TurnLost
from bot.turns.brief import build_brief
from bot.turns.context import TurnContext
from bot.turns.events import Failed, RunEvent, Started, Unfinished, event_of
from bot.turns.held import HeldTurn
from bot.turns.streaming import STREAM_WATCH, streaming_backend
from storage import conversations, turns
from storage.models import Conversation, utcnow

log = logging.getLogger("bot.engine")

# The error code of a create past the model's context window (a 400: nothing was created).
CONTEXT_LENGTH_EXCEEDED = "context_length_exceeded"


class Starting:
    """The steps of a turn before its run is known to exist. Each create here is called by
    the machine inside its fence (`TurnMachine._once`)."""

    def __init__(self, ctx: TurnContext) -> None:
        self.ctx = ctx

    async def create_conversation(self, held: HeldTurn) -> None:
        """The key's OpenAI conversation (or thread), created on first use and recorded."""
        conversation = held.conversation
        assert conversation.id is not None
        backend = self.ctx.backend_for(conversation)
        conversation.openai_id = await backend.create_conversation(
            key=conversation.key, assistant=self.ctx.assistant_for(conversation)
        )
        async with self.ctx.db.session(single=True) as session:
            await conversations.set_conversation_openai_id(
                session=session, conversation_id=conversation.id, openai_id=conversation.openai_id
            )

    async def recover(self, held: HeldTurn) -> RunEvent | None:
        """A create may have been sent whose result was never recorded: what became of it,
        as an event; None when nothing was created (or only this turn's unsent tool outputs
        are awaited), so the create goes ahead."""
        async with self.ctx.db.session() as session:
            # Another process may have finished turns since this row was read.
            fresh = await session.get(Conversation, held.conversation.id)
        conversation = fresh or held.conversation
        backend = self.ctx.backend_for(conversation)
        found = await backend.recover_run(
            conversation_id=conversation.openai_id or "", watermark=conversation.watermark
        )
        await self._settle(held, backend)
        log.warning("turn %s: looked for an unrecorded run: %s", held.id, describe_recovered(found))
        planner = self.ctx.planner
        if found is None:
            return None
        if isinstance(found, str):
            return Started(found, first_poll=utcnow() + timedelta(seconds=planner.base))
        if isinstance(found, Pending) or found.status is RunStatus.RUNNING:
            return Unfinished(look_again=utcnow() + timedelta(seconds=planner.ceiling))
        waits_for_ours = held.tool_state is not None and held.tool_state.answers(found.tool_calls)
        if found.status is RunStatus.REQUIRES_ACTION and waits_for_ours:
            return None  # the run waits for the outputs this turn holds: send them
        return event_of(found)

    async def inputs(
        self, held: HeldTurn, fence: Callable[[], Awaitable[None]]
    ) -> list[UserMessage]:
        """The queued messages as the run's input, their files moved to OpenAI (each upload
        fenced by `fence`)."""
        backend = self.ctx.backend_for(held.conversation)
        if self.ctx.inputs is None:
            return [UserMessage(m.text) for m in held.messages]
        assistant = self.ctx.assistant_for(held.conversation)
        return await self.ctx.inputs.build(
            held.messages, backend, fence, read_files=backend.reads_files(assistant)
        )

    async def create_run(self, held: HeldTurn, inputs: list[UserMessage]) -> Started:
        """Add the messages and start the assistant on them (not idempotent); streamed
        where the backend can, its stream handed on with the start."""
        conversation = held.conversation
        assistant = self.ctx.assistant_for(conversation)
        brief = await build_brief(self.ctx, held, force_truncation=held.force_truncation)
        streamer = streaming_backend(self.ctx, conversation)
        if streamer is not None:
            created = await streamer.start_run_streamed(
                conversation_id=conversation.openai_id or "",
                assistant=assistant,
                messages=inputs,
                brief=brief,
            )
            await self._settle(held, self.ctx.backend_for(conversation))
            if not isinstance(created, str):
                log.info("turn %s started run %s, streamed", held.id, created.run_id)
                return Started(created.run_id, first_poll=utcnow() + STREAM_WATCH, stream=created)
            run_id = created  # the server answered without a stream: polled
        else:
            run_id = await self.ctx.backend_for(conversation).start_run(
                conversation_id=conversation.openai_id or "",
                assistant=assistant,
                messages=inputs,
                brief=brief,
            )
        await self._settle(held, self.ctx.backend_for(conversation))
        log.info("turn %s started run %s on %s", held.id, run_id, conversation.openai_id)
        delay = self.ctx.planner.next_delay(assistant.name, 0.0)
        return Started(run_id, first_poll=utcnow() + timedelta(seconds=delay))

    async def _settle(self, held: HeldTurn, backend: Backend) -> None:
        """Record the conversation's real id, where the start (or the look) created or
        found it under a placeholder (an Agents API session is created with its first
        input): before the run is recorded, so every later turn finds the session."""
        conversation = held.conversation
        settled = backend.settled_conversation(conversation.openai_id or "")
        if settled is None or conversation.id is None:
            return
        async with self.ctx.db.session(single=True) as session:
            await conversations.set_conversation_openai_id(
                session=session, conversation_id=conversation.id, openai_id=settled
            )
        conversation.openai_id = settled

    async def failed(self, held: HeldTurn, exc: BackendError) -> RunEvent | None:
        """A create was answered with an error: a notice (OpenAI will not take it), or a
        retry planned after a back-off (None)."""
        turn = held.turn
        too_long = exc.code == CONTEXT_LENGTH_EXCEEDED
        if too_long and not held.force_truncation:
            # A 400 created nothing: the same input again, with `truncation: "auto"` (the
            # API then drops the conversation's oldest items until the input fits).
            log.warning("turn %s: past the model's context; retrying with truncation", held.id)
            held.force_truncation = True
            await self._retry(held, exc, at=utcnow())
            return None
        if not exc.transient:
            log.error("turn %s: OpenAI refused the run: %s", held.id, exc)
            notice = messages.CONTEXT_FULL if too_long else messages.RUN_REJECTED
            return Failed(RunState(RunStatus.FAILED, reason=str(exc)), notice=notice)
        await self._retry(held, exc, at=utcnow() + timedelta(seconds=backoff(turn.attempts)))
        return None

    async def _retry(self, held: HeldTurn, exc: BackendError, *, at: datetime) -> None:
        """Plan the create again at `at` (recorded, so another process would too)."""
        turn, retry_at = held.turn, at
        log.warning("turn %s: starting the run failed (%s); retrying at %s", held.id, exc, retry_at)
        async with self.ctx.db.session() as session:
            ours = await turns.record_start_failure(
                session=session,
                turn_id=held.id,
                owner=self.ctx.owner,
                next_attempt_at=retry_at,
                error=str(exc),
                lease=self.ctx.lease,
            )
        if not ours:
            raise TurnLost(f"turn {held.id} was taken over")
        turn.attempts += 1
        turn.lease_until = retry_at + self.ctx.lease
        self.ctx.schedule(held.id, retry_at)


def describe_recovered(found: Recovered) -> str:
    """For the log: what recovery found, never the answer's text."""
    if isinstance(found, RunState):
        return f"finished ({found.status.value})"
    if isinstance(found, Pending):
        return "created, still running"
    return f"run {found}" if found else "nothing: starting it again"
