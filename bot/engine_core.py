"""The state of the turn engine and the steps every stage shares (lease, wait, finish)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.assistants import Assistant, Assistants
from bot.backends import Backend, Backends, RunState
from bot.errors import BackendError
from bot.inputs import InputBuilder
from bot.keys import choice_keys
from bot.lease_keeper import LeaseKeeper
from bot.outcomes import reply_parts
from bot.polling import PollPlanner
from bot.tool_state import ToolState
from storage import choices, finish, queue, turns
from storage.db import Database
from storage.models import Conversation, InboundMessage, Reply, Turn, TurnStatus, utcnow

log = logging.getLogger("bot.engine")

Schedule = Callable[[int, datetime], None]
Finished = Callable[[list[Reply], list[InboundMessage]], Awaitable[None]]
# Show what a run is doing ("running code"): (turn, activity).
Activity = Callable[[Turn, str], Awaitable[None]]
# A model that keeps calling tools ends its turn after this many rounds, with a notice.
MAX_TOOL_ROUNDS = 8


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
    # The tool round whose outputs are computed (stored in `turn.tool_state`).
    tool_state: ToolState | None = None
    # What the run was last seen doing, so the status changes only when it does.
    activity: str | None = None
    # Seconds after the run's start at which a poll last saw it running (this process).
    running_at: float | None = None


class EngineCore:
    """What every stage of a turn uses: the state, the lease, the wait, the finish."""

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
        inputs: InputBuilder | None = None,
        slack: AsyncWebClient | None = None,
        function_timeout: float = 30.0,
        on_activity: Activity | None = None,
        keeper: LeaseKeeper | None = None,
        on_lost: Callable[[int], None] | None = None,
    ) -> None:
        self.db = db
        # Renews the leases of turns whose step runs; fences non-idempotent calls.
        self.keeper = keeper or LeaseKeeper(db=db, owner=owner, lease=lease)
        self.inputs = inputs
        self.slack = slack
        self.function_timeout = function_timeout
        self.on_activity = on_activity
        # Told the id of a turn another process took over: what else remembers it forgets it.
        self.on_lost = on_lost
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
        # Keys that got messages while their turn ran (dispatch saw the turn open).
        self._waiting_keys: set[str] = set()
        self._in_flight: set[int] = set()

    def assistant_for(self, conversation: Conversation) -> Assistant:
        return self.assistants.get(conversation.assistant) or self.assistants.default

    async def _assistant_of(self, session: AsyncSession, key: str) -> Assistant:
        """The key's chosen assistant (`/assistant use`), or the default."""
        if len(self.assistants.by_name) == 1:
            return self.assistants.default  # nothing to choose from: skip the look-up
        choice = await choices.current_choice(session=session, keys=choice_keys(key))
        return self.assistants.get(choice.assistant if choice else None) or self.assistants.default

    async def _open(self, session: AsyncSession, key: str) -> int | None:
        """In `session`: open a turn over the key's queued messages; its id, or None."""
        pending = await turns.pending_messages(session=session, key=key)
        if not pending:
            return None  # the usual case after a turn: no look-up of the conversation
        assistant = await self._assistant_of(session, key)
        backend = self.backends.for_assistant(assistant)
        conversation = await queue.current_conversation(
            session=session, key=key, assistant=assistant.name, backend=backend.kind
        )
        opened = await turns.open_turn(
            session=session,
            key=key,
            conversation_id=conversation.id or 0,
            pending=pending,
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
        """Forget the turn: it ended, or this process no longer holds it."""
        assert turn.id is not None
        self._driving.pop(turn.id, None)
        self._open_keys.discard(turn.key)
        self.keeper.forget(turn.id)

    def _lost(self, turn: Turn) -> None:
        """This process's lease ran out and another process took the turn: let it go."""
        log.warning("turn %s was taken over by another process", turn.id)
        self._release(turn)
        # Messages that came meanwhile are the new holder's (or the sweep's) to answer.
        self._waiting_keys.discard(turn.key)
        if self.on_lost is not None and turn.id is not None:
            self.on_lost(turn.id)

    async def _fence(self, driving: Driving, *, full: bool = False) -> None:
        """Right before a call that must not happen twice: this process still holds the
        turn (`full`: for a whole lease from now). Raises TurnLost otherwise."""
        await self.keeper.fence(driving.turn, full=full)

    async def _open_next(self, key: str) -> int | None:
        """After a turn: open the next over messages that came meanwhile, if any may have.

        On SQLite every message reaches this process, so it knows; with several processes
        (PostgreSQL) one may have reached another, so the queue is always looked at, first
        with a plain read (the usual answer is "nothing", and a transaction costs two more
        round trips).
        """
        if self.db.is_sqlite and key not in self._waiting_keys:
            return None
        self._waiting_keys.discard(key)
        async with self.db.session(single=True) as session:
            if not await turns.pending_messages(session=session, key=key):
                return None
        async with self.db.session() as session:
            return await self._open(session, key)

    async def advance(self, turn_id: int) -> None:
        """Do the turn's next step (the engine decides which)."""
        raise NotImplementedError

    async def _run_tools(self, driving: Driving, state: RunState) -> None:
        """Run the calls a run waits for, store the outputs, send them (`ToolSteps`)."""
        raise NotImplementedError

    async def _start_tools(self, driving: Driving, backend: Backend) -> None:
        """Send a tool round's stored outputs, unless they were sent already (`ToolSteps`)."""
        raise NotImplementedError

    async def _recover(self, driving: Driving, backend: Backend) -> bool:
        """Look for a run whose create may have happened (`StartSteps`)."""
        raise NotImplementedError

    async def _start_failed(self, driving: Driving, exc: BackendError) -> None:
        """A create failed: retry later, or give up with a notice (`StartSteps`)."""
        raise NotImplementedError

    async def _show(self, driving: Driving, activity: str) -> None:
        """Tell the user what the run is doing ("running code")."""
        if self.on_activity is not None:
            await self.on_activity(driving.turn, activity)

    async def _started(self, driving: Driving, run_id: str, first_poll: datetime) -> None:
        turn = driving.turn
        assert turn.id is not None
        async with self.db.session(single=True) as session:
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
        driving.running_at = None
        turn.lease_until = first_poll + self.lease
        self.schedule(turn.id, first_poll)

    async def _renew(self, driving: Driving, lease_until: datetime | None = None) -> bool:
        """Extend this process's lease on the turn (to `lease_until`, else a lease from now);
        False if another process took the turn."""
        turn = driving.turn
        assert turn.id is not None
        lease_until = lease_until or utcnow() + self.lease
        async with self.db.session(single=True) as session:
            held = await turns.renew_turn(
                session=session,
                turn_id=turn.id,
                owner=self.owner,
                lease_until=lease_until,
                polls=driving.polls,
            )
        if held:
            turn.lease_until = lease_until
        return held

    async def _wait(self, driving: Driving, next_at: datetime) -> None:
        """Schedule the next poll; renew the lease only when it would run out before long."""
        turn = driving.turn
        assert turn.id is not None
        runs_out = turn.lease_until is None or turn.lease_until < next_at + self.lease / 2
        if runs_out and not await self._renew(driving, next_at + self.lease):
            self._lost(turn)
            return
        self.schedule(turn.id, next_at)

    async def _finish(
        self, driving: Driving, state: RunState, *, notice: str | None = None
    ) -> None:
        """Record the outcome and the reply (or `notice` instead), then deliver it."""
        turn = driving.turn
        assert turn.id is not None
        parts = [notice] if notice else reply_parts(state)
        files = [] if notice else [json.dumps(asdict(file)) for file in state.files]
        # Safe alone (one statement on PostgreSQL): no BEGIN/COMMIT round trips.
        async with self.db.session(single=True) as session:
            outbox = await finish.finish_turn(
                session=session,
                turn=turn,
                owner=self.owner,
                outcome=state.reason
                if state.reason in ("timeout", "tool_rounds", "bad_input")
                else state.status.value,
                parts=parts,
                files=files,
                lease=self.lease,
                polls=driving.polls,
                error=state.reason,
                watermark=state.watermark,
            )
        self._release(turn)
        if not outbox:
            log.warning("turn %s was taken over by another process", turn.id)
            return
        log.info(
            "turn %s finished: %s, %d reply part(s), %d file(s)",
            turn.id,
            state.status,
            len(parts),
            len(files),
        )
        # Messages that arrived during the run waited for this turn to end: their turn
        # starts while this reply is posted, not after (each part and reaction is a Slack
        # call). Should either fail, the other still runs; what failed waits for the sweep.
        outcomes = await asyncio.gather(
            self.on_finished(outbox, driving.messages),
            self._continue(turn.key),
            return_exceptions=True,
        )
        failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        for failure in failures[1:]:
            log.error("turn %s: starting the next turn failed too", turn.id, exc_info=failure)
        if failures:
            raise failures[0]

    async def _continue(self, key: str) -> None:
        """Open and start the key's next turn, if messages are waiting."""
        following = await self._open_next(key)
        if following is not None:
            await self.advance(following)
