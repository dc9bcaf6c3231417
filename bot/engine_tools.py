"""Tool rounds: run the functions a run asks for, store the outputs, send them back.

A round's outputs are written to the turn (`turn.tool_state`) before they are sent, and the
turn goes back to "starting": sending them creates (Responses) or resumes (Assistants) a
run, and a crash around that call is recovered like a crash around the first create —
without running the functions again. Functions run at least once per call: a crash while
they run means they run again after the restart (the run still waits for them).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bot import messages
from bot.backends import Backend, RunState, RunStatus
from bot.engine_core import MAX_TOOL_ROUNDS, Driving, EngineCore
from bot.errors import BackendError
from bot.functions import ToolContext, run_calls
from bot.tool_state import ToolState
from storage import turns
from storage.models import utcnow

log = logging.getLogger("bot.engine")


class ToolSteps(EngineCore):
    """The steps of a turn whose run waits for function outputs."""

    async def _run_tools(self, driving: Driving, state: RunState) -> None:
        turn = driving.turn
        assert turn.id is not None
        backend = self.backends.by_kind(driving.conversation.backend)
        previous = driving.tool_state
        same_round = previous is not None and previous.answers(state.tool_calls)
        rounds = turn.tool_rounds if same_round else turn.tool_rounds + 1
        if rounds > MAX_TOOL_ROUNDS:
            await self._stop_tools(driving, backend, state)
            return
        known = previous.outputs if previous is not None and same_round else {}
        todo = [call for call in state.tool_calls if call.call_id not in known]
        if todo:
            names = ", ".join(sorted({call.name for call in todo}))
            await self._show(driving, f"calling {names}")
        assistant = self.assistant_for(driving.conversation)
        # A function may run up to FUNCTION_TIMEOUT_SECONDS, which the settings keep within
        # one lease: claimed for a whole lease from now, no other process can run these calls
        # too, even if this process could renew nothing more while they run.
        await self._fence(driving, full=True)
        results = await run_calls(
            {function.name: function for function in assistant.callables},
            todo,
            self._context(driving),
            timeout=self.function_timeout,
        )
        failed = [out.call_id for out in results if not out.ok]
        log.info(
            "turn %s: tool round %d: %d call(s), %d error output(s)",
            turn.id,
            rounds,
            len(todo),
            len(failed),
        )
        tool_state = ToolState(
            run_id=turn.run_id or state.watermark or "",
            calls=state.tool_calls,
            outputs={**known, **{out.call_id: out for out in results}},
        )
        async with self.db.session() as session:
            held = await turns.record_tool_outputs(
                session=session,
                turn_id=turn.id,
                owner=self.owner,
                tool_state=tool_state.to_json(),
                tool_rounds=rounds,
                lease=self.lease,
            )
        if not held:
            self._lost(turn)
            return
        turn.status, turn.tool_rounds, turn.attempts = "starting", rounds, 0
        driving.tool_state = tool_state
        # The run was just seen waiting for these outputs: send them without looking first.
        await self._send_outputs(driving, backend)

    async def _start_tools(self, driving: Driving, backend: Backend) -> None:
        # After a failed send or a takeover, the outputs may have arrived: look first.
        if (driving.resumed or driving.turn.attempts) and await self._recover(driving, backend):
            return
        await self._send_outputs(driving, backend)

    async def _send_outputs(self, driving: Driving, backend: Backend) -> None:
        turn, tool_state = driving.turn, driving.tool_state
        assert turn.id is not None and tool_state is not None
        await self._fence(driving)
        try:
            run_id = await backend.submit_tool_outputs(
                conversation_id=driving.conversation.openai_id or "",
                run_id=tool_state.run_id,
                assistant=self.assistant_for(driving.conversation),
                outputs=tool_state.ordered_outputs(),
            )
        except BackendError as exc:
            await self._start_failed(driving, exc)
            return
        driving.resumed = False
        first = utcnow() + timedelta(seconds=self.planner.base)
        await self._started(driving, run_id, first)
        log.info("turn %s: tool outputs sent; run %s goes on", turn.id, run_id)

    async def _stop_tools(self, driving: Driving, backend: Backend, state: RunState) -> None:
        """Too many rounds: close the open calls so the conversation stays usable, and say so."""
        turn = driving.turn
        log.warning("turn %s: more than %d tool rounds; stopping", turn.id, MAX_TOOL_ROUNDS)
        watermark = state.watermark
        await self._fence(driving)
        try:
            watermark = (
                await backend.abandon_tool_calls(
                    conversation_id=driving.conversation.openai_id or "",
                    run_id=turn.run_id or "",
                    calls=state.tool_calls,
                )
                or watermark
            )
        except BackendError as exc:
            log.warning("turn %s: closing the open tool calls failed: %s", turn.id, exc)
        await self._finish(
            driving,
            RunState(RunStatus.CANCELLED, reason="tool_rounds", watermark=watermark),
            notice=messages.TOO_MANY_TOOL_ROUNDS.format(rounds=MAX_TOOL_ROUNDS),
        )

    def _context(self, driving: Driving) -> ToolContext:
        """Who asked, and where: the newest message of the turn."""
        newest = driving.messages[-1] if driving.messages else None
        return ToolContext(
            user_id=newest.user_id if newest else "",
            team_id=newest.team_id if newest else "",
            channel_id=driving.turn.channel_id,
            thread_ts=driving.turn.thread_ts,
            assistant=driving.conversation.assistant,
            slack=self.slack,
        )
