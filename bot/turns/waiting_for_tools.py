"""A run that waits for function outputs: run the calls, store the outputs, send them back.

A round's outputs are written to the turn (`turn.tool_state`) before they are sent, and the
turn goes back to "starting": sending them creates (Responses) or resumes (Assistants) a
run, and a crash around that call is recovered like a crash around the first create —
without running the functions again. Functions run at least once per call: a crash while
they run means they run again after the restart (the run still waits for them).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from bot import messages
from bot.backends import RunState, RunStatus
from bot.errors import BackendError, TurnLost
from bot.functions.calls import ToolCall, ToolOutput, run_calls
from bot.functions.registry import ToolContext
from bot.turns.brief import build_brief
from bot.turns.context import TurnContext
from bot.turns.events import Finished, Started
from bot.turns.held import HeldTurn
from bot.turns.streaming import STREAM_WATCH, streaming_backend
from bot.turns.tool_round import ToolState
from bot.turns.usage_rows import usage_row
from storage import turns, usage
from storage.models import TurnStatus, utcnow

log = logging.getLogger("bot.engine")

# A model that keeps calling tools ends its turn after this many rounds, with a notice.
MAX_TOOL_ROUNDS = 8


@dataclass(frozen=True)
class Round:
    """One round of function calls: its number in the turn, the outputs already computed
    for it (a retry of the same round), and the calls still to run."""

    number: int
    known: dict[str, ToolOutput]
    todo: list[ToolCall]


class WaitingForTools:
    """Runs a round's functions and sends their outputs."""

    def __init__(self, ctx: TurnContext) -> None:
        self.ctx = ctx

    def plan(self, held: HeldTurn, state: RunState) -> Round | None:
        """The round the run asks for; None past MAX_TOOL_ROUNDS."""
        previous = held.tool_state
        same_round = previous is not None and previous.answers(state.tool_calls)
        number = held.turn.tool_rounds if same_round else held.turn.tool_rounds + 1
        if number > MAX_TOOL_ROUNDS:
            return None
        known = previous.outputs if previous is not None and same_round else {}
        todo = [call for call in state.tool_calls if call.call_id not in known]
        return Round(number, known, todo)

    async def run(self, held: HeldTurn, state: RunState, round_: Round) -> None:
        """Run the calls still to run and store every output; the turn is then "starting"
        (its outputs to send)."""
        ctx, turn = self.ctx, held.turn
        assistant = ctx.assistant_for(held.conversation)
        results = await run_calls(
            {function.name: function for function in assistant.callables},
            round_.todo,
            self._context(held),
            timeout=ctx.function_timeout,
        )
        failed = [out.call_id for out in results if not out.ok]
        log.info(
            "turn %s: tool round %d: %d call(s), %d error output(s)",
            held.id,
            round_.number,
            len(round_.todo),
            len(failed),
        )
        tool_state = ToolState(
            run_id=turn.run_id or state.watermark or "",
            calls=state.tool_calls,
            outputs={**round_.known, **{out.call_id: out for out in results}},
        )
        async with ctx.db.session() as session:
            ours = await turns.record_tool_outputs(
                session=session,
                turn_id=held.id,
                owner=ctx.owner,
                tool_state=tool_state.to_json(),
                tool_rounds=round_.number,
                lease=ctx.lease,
            )
            record = usage_row(held, state, assistant=assistant.name)
            if ours and record is not None:
                # The round's own response (Responses API); an Assistants run reports
                # usage only once terminal, so its one row comes with the finish.
                await usage.record_usage(session=session, record=record)
        if not ours:
            raise TurnLost(f"turn {held.id} was taken over")
        turn.status, turn.tool_rounds, turn.attempts = TurnStatus.STARTING, round_.number, 0
        held.tool_state = tool_state

    async def send_outputs(self, held: HeldTurn) -> Started:
        """Send the round's stored outputs (not idempotent): the run goes on."""
        tool_state = held.tool_state
        assert tool_state is not None
        ctx = self.ctx
        brief = await build_brief(ctx, held, force_truncation=held.force_truncation)
        streamer = streaming_backend(ctx, held.conversation)
        if streamer is not None:
            created = await streamer.submit_tool_outputs_streamed(
                conversation_id=held.conversation.openai_id or "",
                run_id=tool_state.run_id,
                assistant=ctx.assistant_for(held.conversation),
                outputs=tool_state.ordered_outputs(),
                brief=brief,
            )
            if not isinstance(created, str):
                log.info("turn %s: tool outputs sent; run %s streams on", held.id, created.run_id)
                return Started(created.run_id, first_poll=utcnow() + STREAM_WATCH, stream=created)
            run_id = created
        else:
            run_id = await ctx.backend_for(held.conversation).submit_tool_outputs(
                conversation_id=held.conversation.openai_id or "",
                run_id=tool_state.run_id,
                assistant=ctx.assistant_for(held.conversation),
                outputs=tool_state.ordered_outputs(),
                brief=brief,
            )
        log.info("turn %s: tool outputs sent; run %s goes on", held.id, run_id)
        return Started(run_id, first_poll=utcnow() + timedelta(seconds=ctx.planner.base))

    async def stop(self, held: HeldTurn, state: RunState) -> Finished:
        """Too many rounds: close the open calls so the conversation stays usable (not
        idempotent), and say so."""
        turn = held.turn
        log.warning("turn %s: more than %d tool rounds; stopping", held.id, MAX_TOOL_ROUNDS)
        watermark = state.watermark
        try:
            watermark = (
                await self.ctx.backend_for(held.conversation).abandon_tool_calls(
                    conversation_id=held.conversation.openai_id or "",
                    run_id=turn.run_id or "",
                    calls=state.tool_calls,
                )
                or watermark
            )
        except BackendError as exc:
            log.warning("turn %s: closing the open tool calls failed: %s", held.id, exc)
        return Finished(
            RunState(
                RunStatus.CANCELLED, reason="tool_rounds", watermark=watermark, usage=state.usage
            ),
            notice=messages.TOO_MANY_TOOL_ROUNDS.format(rounds=MAX_TOOL_ROUNDS),
        )

    def _context(self, held: HeldTurn) -> ToolContext:
        """Who asked, and where: the newest message of the turn."""
        newest = held.messages[-1] if held.messages else None
        return ToolContext(
            user_id=newest.user_id if newest else "",
            team_id=newest.team_id if newest else "",
            channel_id=held.turn.channel_id,
            thread_ts=held.turn.thread_ts,
            assistant=held.conversation.assistant,
            slack=self.ctx.slack,
        )
