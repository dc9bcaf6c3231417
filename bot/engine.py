"""The turn pipeline: open a turn over queued messages, start its run, poll it, finish it.

Every step writes the database before it moves on, so any process can pick up where a
dead one stopped. What this process keeps in memory (the turns it drives, the scheduled
polls) only saves reading back what it just wrote. The stages live in `engine_start`
(create or recover the run), `engine_poll` (follow it), `engine_tools` (function calls)
and `engine_core` (wait, finish).
"""

from __future__ import annotations

import logging

from bot.engine_core import Driving
from bot.engine_poll import PollSteps
from bot.engine_start import StartSteps
from bot.engine_tools import ToolSteps
from bot.errors import TurnLost
from bot.tool_state import ToolState
from storage import turns
from storage.models import Conversation, TurnStatus, utcnow

log = logging.getLogger("bot.engine")

__all__ = ["Driving", "TurnEngine"]


class TurnEngine(ToolSteps, StartSteps, PollSteps):
    """Drives turns. `schedule(turn_id, when)` is the clock; `on_finished` delivers."""

    async def dispatch(self, key: str) -> None:
        """Open a turn over the key's queued messages and start it, if none is open."""
        if key in self._open_keys:
            self._waiting_keys.add(key)
            return  # the open turn dispatches the key again when it ends
        async with self.db.session() as session:
            opened = await self._open(session, key)
        if opened is not None:
            await self.advance(opened)

    async def advance(self, turn_id: int) -> None:
        """Do the turn's next step, if this process holds it (or can claim it) and is idle on it.

        While the step runs, the lease keeper renews the turn's lease, however long the step
        takes. A step that fails drops what this process knew of the turn: the retry claims
        the turn again and, like a takeover, looks for a run the failed step may have created
        before creating one (a create followed by a failed write must not create twice).
        """
        if turn_id in self._in_flight:
            return
        self._in_flight.add(turn_id)
        driving: Driving | None = None
        try:
            driving = self._driving.get(turn_id) or await self._claim(turn_id)
            if driving is None:
                return
            with self.keeper.running(driving.turn):
                if driving.turn.status == TurnStatus.STARTING:
                    await self._start(driving)
                elif driving.turn.status == TurnStatus.RUNNING:
                    await self._poll(driving)
        except TurnLost:
            if driving is not None:
                self._lost(driving.turn)
        except Exception:
            if driving is None:
                raise  # nothing was claimed: the sweep tries again
            log.exception("turn %s: a step failed; starting over from the database", turn_id)
            self._release(driving.turn)
            self.schedule(turn_id, utcnow() + self.lease / 3)
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
        driving = Driving(
            turn,
            conversation,
            queued,
            resumed=True,
            polls=turn.polls,
            tool_state=ToolState.from_json(turn.tool_state),
        )
        self._hold(driving)
        return driving
