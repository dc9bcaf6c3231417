"""The turn pipeline: open a turn over queued messages, start its run, poll it, finish it.

Every step writes the database before it moves on, so any process can pick up where a
dead one stopped. What this process keeps in memory (the turns it drives, the scheduled
polls) only saves reading back what it just wrote.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import messages
from bot.assistants import Assistant, Assistants
from bot.backends import Backend, Backends, RunState, RunStatus
from bot.backends.base import Pending
from bot.errors import BackendError
from bot.keys import choice_keys
from bot.polling import PollPlanner
from bot.render import split_markdown
from storage import choices, queue, turns
from storage.db import Database
from storage.models import Conversation, InboundMessage, Reply, Turn, TurnStatus, utcnow

log = logging.getLogger(__name__)

Schedule = Callable[[int, datetime], None]
# A model that keeps calling tools ends its turn after this many rounds, with a notice.
MAX_TOOL_ROUNDS = 8
Finished = Callable[[list[Reply], list[InboundMessage]], Awaitable[None]]


def backoff(attempt: int, *, base: float = 1.0, cap: float = 60.0) -> float:
    """Capped exponential back-off with full jitter."""
    return random.uniform(base / 2, min(cap, base * 2 ** max(0, attempt)))


@dataclass
class Driving:
    """A turn this process holds, with what its next steps need.

    `resumed`: taken over rather than opened here, so a create may already have been sent.
    """

    turn: Turn
    conversation: Conversation
    messages: list[InboundMessage]
    resumed: bool = False
    polls: int = 0
    tool_rounds: int = 0


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
        on_finished: Finished,
        run_timeout: timedelta = timedelta(minutes=10),
    ) -> None:
        self.db = db
        self.run_timeout = run_timeout
        self.backends = backends
        self.assistants = assistants
        self.owner = owner
        self.lease = lease
        self.planner = planner
        self.on_finished = on_finished
        self.schedule: Schedule = lambda turn_id, when: None
        self._driving: dict[int, Driving] = {}
        self._open_keys: set[str] = set()
        self._in_flight: set[int] = set()

    def assistant_for(self, conversation: Conversation) -> Assistant:
        return self.assistants.get(conversation.assistant) or self.assistants.default

    async def dispatch(self, key: str) -> None:
        """Open a turn over the key's queued messages and start it, if none is open."""
        if key in self._open_keys:
            return  # the open turn dispatches the key again when it ends
        async with self.db.session() as session:
            opened = await self._open(session, key)
        if opened is not None:
            await self.advance(opened)

    async def _open(self, session: AsyncSession, key: str) -> int | None:
        """In `session`: open a turn over the key's queued messages; its id, or None."""
        choice = await choices.current_choice(session=session, keys=choice_keys(key))
        assistant = self.assistants.get(choice.assistant if choice else None)
        if assistant is None:
            assistant = self.assistants.default
        backend = self.backends.for_assistant(assistant)
        conversation = await queue.current_conversation(
            session=session, key=key, assistant=assistant.name, backend=backend.kind
        )
        opened = await turns.open_turn(
            session=session,
            key=key,
            conversation_id=conversation.id or 0,
            owner=self.owner,
            lease=self.lease,
        )
        if opened is None:
            return None
        turn, queued = opened
        self._hold(Driving(turn, conversation, queued))
        return turn.id

    def _hold(self, driving: Driving) -> None:
        assert driving.turn.id is not None
        self._driving[driving.turn.id] = driving
        self._open_keys.add(driving.turn.key)

    def _release(self, turn: Turn) -> None:
        assert turn.id is not None
        self._driving.pop(turn.id, None)
        self._open_keys.discard(turn.key)

    def _lost(self, turn: Turn) -> None:
        """This process's lease ran out and another process took the turn: let it go."""
        log.warning("turn %s was taken over by another process", turn.id)
        self._release(turn)

    async def advance(self, turn_id: int) -> None:
        """Do the turn's next step, if this process holds it (or can claim it) and is idle on it."""
        if turn_id in self._in_flight:
            return
        self._in_flight.add(turn_id)
        try:
            driving = self._driving.get(turn_id) or await self._claim(turn_id)
            if driving is None:
                return
            if driving.turn.status == TurnStatus.STARTING:
                await self._start(driving)
            elif driving.turn.status == TurnStatus.RUNNING:
                await self._poll(driving)
        finally:
            self._in_flight.discard(turn_id)

    async def _claim(self, turn_id: int) -> Driving | None:
        """Take over a turn another process left (or this one, before a restart)."""
        async with self.db.session() as session:
            turn = await turns.claim_turn(
                session=session, turn_id=turn_id, owner=self.owner, lease=self.lease
            )
            if turn is None:
                return None
            conversation = await session.get(Conversation, turn.conversation_id)
            queued = await turns.turn_messages(session=session, turn_id=turn_id)
        if conversation is None:
            return None
        driving = Driving(turn, conversation, queued, resumed=True, polls=turn.polls)
        self._hold(driving)
        return driving

    async def _start(self, driving: Driving) -> None:
        turn, conversation = driving.turn, driving.conversation
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
            # A create has no idempotency key, and a crash or a lost answer can hide one that
            # took effect: before any second attempt, look for the run first.
            if (driving.resumed or turn.attempts) and await self._recover(driving, backend):
                return
            run_id = await backend.start_run(
                conversation_id=conversation.openai_id,
                assistant=assistant,
                texts=[m.text for m in driving.messages],
            )
        except BackendError as exc:
            await self._start_failed(driving, exc)
            return
        first = utcnow() + timedelta(seconds=self.planner.next_delay(assistant.name, 0.0))
        await self._started(driving, run_id, first)
        log.info("turn %s started run %s on %s", turn.id, run_id, conversation.openai_id)

    async def _started(self, driving: Driving, run_id: str, first_poll: datetime) -> None:
        turn = driving.turn
        assert turn.id is not None
        async with self.db.session() as session:
            held = await turns.record_started(
                session=session,
                turn_id=turn.id,
                owner=self.owner,
                run_id=run_id,
                next_poll_at=first_poll,
                lease=self.lease,
            )
        if not held:
            self._lost(turn)
            return
        turn.status, turn.run_id, turn.started_at = TurnStatus.RUNNING, run_id, utcnow()
        turn.lease_until = first_poll + self.lease
        self.schedule(turn.id, first_poll)

    async def _recover(self, driving: Driving, backend: Backend) -> bool:
        """A create was sent but its result never recorded: adopt the run if it exists.

        Returns False when no run was created, so the caller starts one.
        """
        turn = driving.turn
        assert turn.id is not None
        async with self.db.session() as session:
            # Another process may have finished turns since this row was read.
            fresh = await session.get(Conversation, driving.conversation.id)
        conversation = fresh or driving.conversation
        found = await backend.recover_run(
            conversation_id=conversation.openai_id or "", watermark=conversation.watermark
        )
        log.warning(
            "turn %s: looked for an unrecorded run: %s", turn.id, _describe_recovered(found)
        )
        if found is None:
            return False
        if isinstance(found, RunState):
            await self._finish(driving, found)
        elif isinstance(found, Pending):
            await self._wait(driving, utcnow() + timedelta(seconds=self.planner.ceiling))
        else:
            await self._started(driving, found, utcnow() + timedelta(seconds=self.planner.base))
        return True

    async def _start_failed(self, driving: Driving, exc: BackendError) -> None:
        turn = driving.turn
        assert turn.id is not None
        if not exc.transient:
            log.error("turn %s: OpenAI refused the run: %s", turn.id, exc)
            notice = (
                messages.CONTEXT_FULL
                if exc.code == "context_length_exceeded"
                else messages.RUN_REJECTED
            )
            await self._finish(driving, RunState(RunStatus.FAILED, reason=str(exc)), notice=notice)
            return
        retry_at = utcnow() + timedelta(seconds=backoff(turn.attempts))
        log.warning("turn %s: starting the run failed (%s); retrying at %s", turn.id, exc, retry_at)
        async with self.db.session() as session:
            await turns.record_start_failure(
                session=session,
                turn_id=turn.id,
                next_attempt_at=retry_at,
                error=str(exc),
                lease=self.lease,
            )
        turn.attempts += 1
        turn.lease_until = retry_at + self.lease
        self.schedule(turn.id, retry_at)

    async def _poll(self, driving: Driving) -> None:
        turn, conversation = driving.turn, driving.conversation
        assert turn.id is not None and turn.run_id is not None
        assistant = self.assistant_for(conversation)
        backend = self.backends.by_kind(conversation.backend)
        if utcnow() - (turn.started_at or turn.created_at) > self.run_timeout:
            await self._time_out(driving, backend)
            return
        try:
            state = await backend.poll_run(
                conversation_id=conversation.openai_id or "",
                run_id=turn.run_id,
                assistant=assistant,
            )
        except BackendError as exc:
            if not exc.transient:
                log.error("turn %s: polling run %s failed: %s", turn.id, turn.run_id, exc)
                await self._finish(driving, RunState(RunStatus.FAILED, reason=str(exc)))
                return
            log.warning("turn %s: poll failed (%s); trying again", turn.id, exc)
            state = RunState(RunStatus.RUNNING)
        driving.polls += 1
        elapsed = (utcnow() - (turn.started_at or turn.created_at)).total_seconds()
        if state.next_run_id is not None and not await self._continue(driving, state.next_run_id):
            return
        if state.status is RunStatus.RUNNING:
            delay = self.planner.next_delay(assistant.name, elapsed)
            await self._wait(driving, utcnow() + timedelta(seconds=delay))
            return
        if state.status is RunStatus.COMPLETED:
            self.planner.record(assistant.name, elapsed)
        await self._finish(driving, state)

    async def _continue(self, driving: Driving, run_id: str) -> bool:
        """The run goes on as `run_id` (tool outputs sent); False once the rounds run out."""
        turn = driving.turn
        assert turn.id is not None
        driving.tool_rounds += 1
        if driving.tool_rounds > MAX_TOOL_ROUNDS:
            log.warning("turn %s: more than %d tool rounds; stopping", turn.id, MAX_TOOL_ROUNDS)
            await self._finish(
                driving,
                RunState(RunStatus.CANCELLED, reason="tool_rounds"),
                notice=messages.TOO_MANY_TOOL_ROUNDS,
            )
            return False
        async with self.db.session() as session:
            await turns.switch_run(
                session=session, turn_id=turn.id, owner=self.owner, run_id=run_id
            )
        turn.run_id = run_id
        return True

    async def _time_out(self, driving: Driving, backend: Backend) -> None:
        turn = driving.turn
        assert turn.run_id is not None
        log.warning("turn %s: run %s passed the run timeout; cancelling it", turn.id, turn.run_id)
        try:
            await backend.cancel_run(
                conversation_id=driving.conversation.openai_id or "", run_id=turn.run_id
            )
        except BackendError as exc:
            log.warning("turn %s: cancelling run %s failed: %s", turn.id, turn.run_id, exc)
        minutes = max(1, round(self.run_timeout.total_seconds() / 60))
        await self._finish(
            driving,
            RunState(RunStatus.CANCELLED, reason="timeout"),
            notice=messages.RUN_TIMED_OUT.format(minutes=minutes),
        )

    async def _wait(self, driving: Driving, next_at: datetime) -> None:
        """Schedule the next poll; renew the lease only when it would run out before long."""
        turn = driving.turn
        assert turn.id is not None
        if turn.lease_until is None or turn.lease_until < next_at + self.lease / 2:
            lease_until = next_at + self.lease
            async with self.db.session() as session:
                held = await turns.renew_turn(
                    session=session,
                    turn_id=turn.id,
                    owner=self.owner,
                    lease_until=lease_until,
                    polls=driving.polls,
                )
            if not held:
                self._lost(turn)
                return
            turn.lease_until = lease_until
        self.schedule(turn.id, next_at)

    async def _finish(
        self, driving: Driving, state: RunState, *, notice: str | None = None
    ) -> None:
        """Record the outcome and the reply (or `notice` instead), then deliver it."""
        turn = driving.turn
        assert turn.id is not None
        parts = [notice] if notice else reply_parts(state)
        following = None
        async with self.db.session() as session:
            outbox = await turns.finish_turn(
                session=session,
                turn=turn,
                owner=self.owner,
                outcome=state.reason
                if state.reason in ("timeout", "tool_rounds")
                else state.status.value,
                parts=parts,
                lease=self.lease,
                polls=driving.polls,
                error=state.reason,
                watermark=state.watermark,
            )
            self._release(turn)
            if outbox:
                # Messages that arrived during the run waited for this turn to end.
                following = await self._open(session, turn.key)
        if not outbox:
            log.warning("turn %s was taken over by another process", turn.id)
            return
        log.info("turn %s finished: %s, %d reply part(s)", turn.id, state.status, len(parts))
        await self.on_finished(outbox, driving.messages)
        if following is not None:
            await self.advance(following)


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
        case _ if state.reason == "context_length_exceeded":
            return [messages.CONTEXT_FULL]
        case _:
            return [messages.RUN_FAILED]


def _describe_recovered(found: str | RunState | Pending | None) -> str:
    """For the log: what recovery found, never the answer's text."""
    if isinstance(found, RunState):
        return f"finished ({found.status.value})"
    if isinstance(found, Pending):
        return "created, still running"
    return f"run {found}" if found else "nothing: starting it again"
