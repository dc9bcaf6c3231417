"""Polling a turn's run: until it ends, times out, or asks for function outputs."""

from __future__ import annotations

import logging
from datetime import timedelta

from bot import messages
from bot.backends import Backend, RunState, RunStatus
from bot.engine_core import Driving, EngineCore
from bot.errors import BackendError
from storage.models import utcnow

log = logging.getLogger("bot.engine")


class PollSteps(EngineCore):
    """The steps of a turn while its run is going."""

    async def _poll(self, driving: Driving) -> None:
        turn, conversation = driving.turn, driving.conversation
        assert turn.id is not None and turn.run_id is not None
        assistant = self.assistant_for(conversation)
        backend = self.backends.by_kind(conversation.backend)
        if utcnow() - (turn.started_at or turn.created_at) > self.run_timeout:
            await self._time_out(driving, backend)
            return
        # What a poll sees was true when it was sent, not when its answer came back: the
        # planner learns, and plans the next poll, from the sending time, so the time the
        # API takes to answer is not added to every run.
        sent = utcnow()
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
            state, seen = RunState(RunStatus.RUNNING), False
        else:
            seen = True
        driving.polls += 1
        elapsed = (sent - (turn.started_at or turn.created_at)).total_seconds()
        if state.status is RunStatus.REQUIRES_ACTION:
            await self._run_tools(driving, state)
            return
        if state.status is RunStatus.RUNNING:
            if state.activity and state.activity != driving.activity:
                driving.activity = state.activity
                await self._show(driving, state.activity)
            if seen:
                driving.running_at = elapsed
            delay = self.planner.next_delay(assistant.name, elapsed)
            await self._wait(driving, sent + timedelta(seconds=delay))
            return
        if state.status is RunStatus.COMPLETED:
            self.planner.record(assistant.name, elapsed, running_at=driving.running_at)
        await self._finish(driving, state)

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
