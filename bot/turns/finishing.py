"""Finishing a turn: its outcome, the conversation's watermark and the reply, written as one."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict

from bot.backends import RunState, RunStatus
from bot.turns.context import TurnContext
from bot.turns.held import HeldTurn
from bot.turns.usage_rows import usage_row
from storage import finish
from storage.models import Reply

log = logging.getLogger("bot.engine")

# Outcomes recorded by their reason rather than the run's status.
_OUTCOME_REASONS = ("timeout", "tool_rounds", "bad_input", "stopped")
# What gets feedback buttons: an answer (also one cut short or stopped), not a notice.
_ANSWERS = (RunStatus.COMPLETED, RunStatus.INCOMPLETE, RunStatus.CANCELLED)


class Finishing:
    """Writes a finished turn and its reply parts (the outbox)."""

    def __init__(self, ctx: TurnContext) -> None:
        self.ctx = ctx

    async def record(self, held: HeldTurn, state: RunState, notice: str | None) -> list[Reply]:
        """Mark the turn done with its reply (or `notice` instead); the reply parts, leased
        to this process, or none if another process holds the turn now."""
        ctx, turn = self.ctx, held.turn
        parts = [notice] if notice else ctx.view.reply(state)
        files = [] if notice else [json.dumps(asdict(file)) for file in state.files]
        # Safe alone (one statement on PostgreSQL): no BEGIN/COMMIT round trips.
        async with ctx.db.session(single=True) as session:
            outbox = await finish.finish_turn(
                session=session,
                turn=turn,
                owner=ctx.owner,
                outcome=state.reason if state.reason in _OUTCOME_REASONS else state.status.value,
                parts=parts,
                files=files,
                lease=ctx.lease,
                polls=held.polls,
                error=state.reason,
                watermark=state.watermark,
                feedback=self._feedback(state, notice, held),
                # Rides on the finish: no round trip of its own on the hot path.
                usage=usage_row(held, state, assistant=ctx.assistant_for(held.conversation).name),
            )
        if outbox:
            log.info(
                "turn %s finished: %s, %d reply part(s), %d file(s)",
                held.id,
                state.status,
                len(parts),
                len(files),
            )
        return outbox

    def _feedback(self, state: RunState, notice: str | None, held: HeldTurn) -> str | None:
        """The assistant whose answer this is, if the reply is an answer (with text)."""
        if notice is not None or state.status not in _ANSWERS or not state.text.strip():
            return None
        return self.ctx.assistant_for(held.conversation).name
