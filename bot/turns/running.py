"""A running turn: recorded as started, then polled — the event source that is always there.

Each poll is a date job of the scheduler (the clock). A poll renews the turn's lease only
when it would run out before the next one, so a poll is one HTTP call and no SQL.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot import messages
from bot.backends import RunState, RunStatus
from bot.errors import BackendError, TurnLost
from bot.turns.context import TurnContext
from bot.turns.events import Failed, Finished, RunEvent, Started, event_of
from bot.turns.held import HeldTurn
from storage import turns
from storage.models import TurnStatus, utcnow

log = logging.getLogger("bot.engine")


class Running:
    """Records a run's start, polls it, plans the next poll."""

    def __init__(self, ctx: TurnContext) -> None:
        self.ctx = ctx

    async def started(self, held: HeldTurn, event: Started) -> None:
        """The run exists: from now on it is polled, never created again."""
        ctx, turn = self.ctx, held.turn
        async with ctx.db.session(single=True) as session:
            ours = await turns.record_started(
                session=session,
                turn_id=held.id,
                owner=ctx.owner,
                run_id=event.run_id,
                next_poll_at=event.first_poll,
                lease=ctx.lease,
            )
        if not ours:
            raise TurnLost(f"turn {held.id} was taken over")
        turn.status, turn.run_id, turn.started_at = TurnStatus.RUNNING, event.run_id, utcnow()
        held.resumed, held.running_at = False, None
        turn.lease_until = event.first_poll + ctx.lease
        ctx.schedule(held.id, event.first_poll)

    async def poll(self, held: HeldTurn) -> RunEvent:
        """Look at the run once: what it says, as an event (a running one carries when to
        look next)."""
        ctx, turn, conversation = self.ctx, held.turn, held.conversation
        assert turn.run_id is not None
        assistant = ctx.assistant_for(conversation)
        if utcnow() - (turn.started_at or turn.created_at) > ctx.run_timeout:
            return await self._time_out(held)
        # What a poll sees was true when it was sent, not when its answer came back: the
        # planner learns, and plans the next poll, from the sending time, so the time the
        # API takes to answer is not added to every run.
        sent = utcnow()
        try:
            state = await ctx.backend_for(conversation).poll_run(
                conversation_id=conversation.openai_id or "",
                run_id=turn.run_id,
                assistant=assistant,
            )
        except BackendError as exc:
            if not exc.transient:
                log.error("turn %s: polling run %s failed: %s", held.id, turn.run_id, exc)
                return Failed(RunState(RunStatus.FAILED, reason=str(exc)))
            log.warning("turn %s: poll failed (%s); trying again", held.id, exc)
            state, seen = RunState(RunStatus.RUNNING), False
        else:
            seen = True
        held.polls += 1
        elapsed = (sent - (turn.started_at or turn.created_at)).total_seconds()
        if state.status is RunStatus.RUNNING:
            if seen:
                held.running_at = elapsed
            delay = ctx.planner.next_delay(assistant.name, elapsed)
            return event_of(state, next_poll=sent + timedelta(seconds=delay))
        if state.status is RunStatus.COMPLETED:
            ctx.planner.record(assistant.name, elapsed, running_at=held.running_at)
        return event_of(state)

    async def wait(self, held: HeldTurn, next_at: datetime) -> None:
        """Plan the next look; renew the lease only when it would run out before long."""
        ctx, turn = self.ctx, held.turn
        runs_out = turn.lease_until is None or turn.lease_until < next_at + ctx.lease / 2
        if runs_out and not await self._renew(held, next_at + ctx.lease):
            raise TurnLost(f"turn {held.id} was taken over")
        ctx.schedule(held.id, next_at)

    async def _renew(self, held: HeldTurn, lease_until: datetime) -> bool:
        async with self.ctx.db.session(single=True) as session:
            ours = await turns.renew_turn(
                session=session,
                turn_id=held.id,
                owner=self.ctx.owner,
                lease_until=lease_until,
                polls=held.polls,
            )
        if ours:
            held.turn.lease_until = lease_until
        return ours

    async def _time_out(self, held: HeldTurn) -> Finished:
        """Past RUN_TIMEOUT_SECONDS: cancel the run (idempotent) and say so."""
        ctx, turn = self.ctx, held.turn
        assert turn.run_id is not None
        log.warning("turn %s: run %s passed the run timeout; cancelling it", held.id, turn.run_id)
        backend = ctx.backend_for(held.conversation)
        try:
            await backend.cancel_run(
                conversation_id=held.conversation.openai_id or "", run_id=turn.run_id
            )
        except BackendError as exc:
            log.warning("turn %s: cancelling run %s failed: %s", held.id, turn.run_id, exc)
        minutes = max(1, round(ctx.run_timeout.total_seconds() / 60))
        # An Agents API turn is its own watermark: the next turn is told apart from it.
        watermark = turn.run_id if backend.kind == "agents" else None
        return Finished(
            RunState(RunStatus.CANCELLED, reason="timeout", watermark=watermark),
            notice=messages.RUN_TIMED_OUT.format(minutes=minutes),
        )
