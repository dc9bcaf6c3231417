"""The turn pipeline: open a turn over queued messages, start its run, poll it, finish it.

Every step reads and writes the database first, so any process can pick up where a dead
one stopped. In-memory state (the scheduled jobs, the in-flight set) is only a speed-up.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from bot import messages
from bot.assistants import Assistant, Assistants
from bot.backends import Backend, Backends, RunState, RunStatus
from bot.backends.base import Pending
from bot.errors import BackendError
from bot.polling import PollPlanner
from bot.render import split_markdown
from storage import queue, turns
from storage.db import Database
from storage.models import Conversation, Turn, TurnStatus, utcnow

log = logging.getLogger(__name__)

Schedule = Callable[[int, datetime], None]


def backoff(attempt: int, *, base: float = 1.0, cap: float = 60.0) -> float:
    """Capped exponential back-off with full jitter."""
    return random.uniform(base / 2, min(cap, base * 2 ** max(0, attempt)))


class TurnEngine:
    """Drives turns. `schedule(turn_id, when)` is the clock; `on_finished` delivers."""

    def __init__(
        self,
        *,
        db: Database,
        backends: Backends,
        assistants: Assistants,
        owner: str,
        lease: timedelta,
        planner: PollPlanner,
        on_finished: Callable[[int], Awaitable[None]],
    ) -> None:
        self.db = db
        self.backends = backends
        self.assistants = assistants
        self.owner = owner
        self.lease = lease
        self.planner = planner
        self.on_finished = on_finished
        self.schedule: Schedule = lambda turn_id, when: None
        self._in_flight: set[int] = set()

    def assistant_for(self, conversation: Conversation) -> Assistant:
        return self.assistants.get(conversation.assistant) or self.assistants.default

    async def dispatch(self, key: str) -> None:
        """Open a turn over the key's queued messages and start it, if none is open."""
        assistant = self.assistants.default
        backend = self.backends.for_assistant(assistant)
        async with self.db.session() as session:
            conversation = await queue.current_conversation(
                session=session, key=key, assistant=assistant.name, backend=backend.kind
            )
            turn = await turns.open_turn(
                session=session,
                key=key,
                conversation_id=conversation.id or 0,
                owner=self.owner,
                lease=self.lease,
            )
        if turn is not None and turn.id is not None:
            await self.advance(turn.id)

    async def advance(self, turn_id: int) -> None:
        """Do the turn's next step, if this process can claim it and is not already on it."""
        if turn_id in self._in_flight:
            return
        self._in_flight.add(turn_id)
        try:
            async with self.db.session() as session:
                turn = await turns.claim_turn(
                    session=session, turn_id=turn_id, owner=self.owner, lease=self.lease
                )
                conversation = (
                    await session.get(Conversation, turn.conversation_id) if turn else None
                )
            if turn is None or conversation is None:
                return
            if turn.status == TurnStatus.STARTING:
                await self._start(turn, conversation)
            elif turn.status == TurnStatus.RUNNING:
                await self._poll(turn, conversation)
        finally:
            self._in_flight.discard(turn_id)

    async def _start(self, turn: Turn, conversation: Conversation) -> None:
        assistant = self.assistant_for(conversation)
        backend = self.backends.by_kind(conversation.backend)
        assert turn.id is not None and conversation.id is not None
        try:
            if conversation.openai_id is None:
                conversation.openai_id = await backend.create_conversation(key=conversation.key)
                async with self.db.session() as session:
                    await queue.set_conversation_openai_id(
                        session=session,
                        conversation_id=conversation.id,
                        openai_id=conversation.openai_id,
                    )
            if turn.start_requested_at is not None and await self._recover(
                turn, conversation, backend
            ):
                return
            async with self.db.session() as session:
                texts = [
                    m.text for m in await turns.turn_messages(session=session, turn_id=turn.id)
                ]
                await turns.mark_start_requested(session=session, turn_id=turn.id)
            run_id = await backend.start_run(
                conversation_id=conversation.openai_id, assistant=assistant, texts=texts
            )
        except BackendError as exc:
            await self._start_failed(turn, exc)
            return
        first = utcnow() + timedelta(seconds=self.planner.next_delay(assistant.name, 0.0))
        async with self.db.session() as session:
            await turns.record_started(
                session=session, turn_id=turn.id, run_id=run_id, next_poll_at=first
            )
        log.info("turn %s started run %s on %s", turn.id, run_id, conversation.openai_id)
        self.schedule(turn.id, first)

    async def _recover(self, turn: Turn, conversation: Conversation, backend: Backend) -> bool:
        """A create was sent but its result never recorded: adopt the run if it exists.

        Returns False when no run was created, so the caller starts one.
        """
        assert turn.id is not None and conversation.openai_id is not None
        found = await backend.recover_run(
            conversation_id=conversation.openai_id, watermark=conversation.watermark
        )
        log.warning("turn %s: looked for an unrecorded run: %s", turn.id, found or "none")
        if found is None:
            return False
        if isinstance(found, RunState):
            await self._finish(
                turn, found.status.value, reply_parts(found), watermark=found.watermark
            )
        elif isinstance(found, Pending):
            retry_at = utcnow() + timedelta(seconds=self.planner.ceiling)
            async with self.db.session() as session:
                await turns.record_poll(
                    session=session, turn_id=turn.id, next_poll_at=retry_at, lease=self.lease
                )
            self.schedule(turn.id, retry_at)
        else:
            first = utcnow() + timedelta(seconds=self.planner.base)
            async with self.db.session() as session:
                await turns.record_started(
                    session=session, turn_id=turn.id, run_id=found, next_poll_at=first
                )
            self.schedule(turn.id, first)
        return True

    async def _start_failed(self, turn: Turn, exc: BackendError) -> None:
        assert turn.id is not None
        if not exc.transient:
            log.error("turn %s: OpenAI refused the run: %s", turn.id, exc)
            await self._finish(turn, "rejected", [messages.RUN_REJECTED], error=str(exc))
            return
        retry_at = utcnow() + timedelta(seconds=backoff(turn.attempts))
        log.warning("turn %s: starting the run failed (%s); retrying at %s", turn.id, exc, retry_at)
        async with self.db.session() as session:
            await turns.record_start_failure(
                session=session,
                turn_id=turn.id,
                next_attempt_at=retry_at,
                error=str(exc),
                maybe_started=exc.maybe_done,
                lease=self.lease,
            )
        self.schedule(turn.id, retry_at)

    async def _poll(self, turn: Turn, conversation: Conversation) -> None:
        assert turn.id is not None and turn.run_id is not None
        assistant = self.assistant_for(conversation)
        backend = self.backends.by_kind(conversation.backend)
        try:
            state = await backend.poll_run(
                conversation_id=conversation.openai_id or "", run_id=turn.run_id
            )
        except BackendError as exc:
            if not exc.transient:
                log.error("turn %s: polling run %s failed: %s", turn.id, turn.run_id, exc)
                await self._finish(turn, "rejected", [messages.RUN_FAILED], error=str(exc))
                return
            log.warning("turn %s: poll failed (%s); trying again", turn.id, exc)
            state = RunState(RunStatus.RUNNING)
        elapsed = (utcnow() - (turn.started_at or turn.created_at)).total_seconds()
        if state.status is RunStatus.RUNNING:
            delay = self.planner.next_delay(assistant.name, elapsed)
            next_at = utcnow() + timedelta(seconds=delay)
            async with self.db.session() as session:
                await turns.record_poll(
                    session=session, turn_id=turn.id, next_poll_at=next_at, lease=self.lease
                )
            self.schedule(turn.id, next_at)
            return
        if state.status is RunStatus.COMPLETED:
            self.planner.record(assistant.name, elapsed)
        await self._finish(
            turn,
            state.status.value,
            reply_parts(state),
            error=state.reason,
            watermark=state.watermark,
        )

    async def _finish(
        self,
        turn: Turn,
        outcome: str,
        parts: list[str],
        *,
        error: str | None = None,
        watermark: str | None = None,
    ) -> None:
        assert turn.id is not None
        async with self.db.session() as session:
            await turns.finish_turn(
                session=session,
                turn_id=turn.id,
                outcome=outcome,
                parts=parts,
                error=error,
                watermark=watermark,
            )
        log.info("turn %s finished: %s, %d reply part(s)", turn.id, outcome, len(parts))
        await self.on_finished(turn.id)
        # Messages that arrived during the run are waiting for this turn to end.
        await self.dispatch(turn.key)


def reply_parts(state: RunState) -> list[str]:
    """What to post for a finished run: the answer split for Slack, or a clear notice."""
    match state.status:
        case RunStatus.COMPLETED:
            return split_markdown(state.text) or [messages.EMPTY_ANSWER]
        case RunStatus.CANCELLED:
            return [messages.RUN_CANCELLED]
        case RunStatus.EXPIRED:
            return [messages.RUN_EXPIRED]
        case RunStatus.INCOMPLETE:
            # Keep what the model did write before it stopped, then say why it stopped.
            return [*split_markdown(state.text), messages.incomplete(state.reason)]
        case _:
            return [messages.RUN_FAILED]
