"""A turn's state machine: every state and every transition, in one place.

    queued ──open──▶ starting ──create──▶ running ──finished / failed──▶ finishing ──▶ done
                        ▲   │ (look first)    │                                  (delivering)
                        │   └─◀── retry ──────┤ needs tools
                        └── send outputs ◀── waiting for tools (functions run)

- *queued*: messages in the inbox (`storage.inbox`); `dispatch` opens a turn over them
  (`Opening`), at most one open turn per conversation.
- *starting* (row status `starting`): the run does not exist yet, or a tool round's outputs
  wait to be sent (`Starting`, `WaitingForTools.send_outputs`).
- *running* (row status `running`): the run exists; events come from polls (`Running`), the
  source that is always there, or from its stream (`StreamReader`, read beside the turn
  while polls wait; its end is `push`ed as the turn's next step).
- *waiting for tools*: the run asked for function outputs (`WaitingForTools`).
- *finishing / delivering / done*: outcome and reply written as one (`Finishing`), then
  handed to the view (`TurnView`), which delivers it; the key's next turn opens beside it.

What holds for every transition is checked here, not at each call site:
- a step runs only while this process holds the turn, and its lease is renewed for as long
  as the step runs (`LeaseKeeper.running`);
- a call that must not happen twice (a create: conversation, run, tool outputs, closing
  abandoned calls; an upload; running functions) goes through `_once`: fenced first, its
  error answer an event (`StartFailed`);
- after a takeover or a failed attempt, the run is looked for before anything is created
  (`HeldTurn.must_look_first`);
- a step that fails drops what this process knew of the turn; the retry claims it again
  from its rows, like a takeover. A turn another process holds is let go (`TurnLost`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

from bot import messages
from bot.backends import RunState, RunStatus
from bot.backends.streams import ToolStep
from bot.errors import BackendError, TurnLost
from bot.turns.context import Schedule, TurnContext
from bot.turns.events import (
    Failed,
    Finished,
    NeedsTools,
    Progress,
    RunEvent,
    Started,
    StartFailed,
    Unfinished,
)
from bot.turns.finishing import Finishing
from bot.turns.held import HeldTurn, claim
from bot.turns.opening import Opening
from bot.turns.running import Running
from bot.turns.starting import Starting
from bot.turns.streaming import STREAM_WATCH, StreamReader, streaming_backend
from bot.turns.waiting_for_tools import WaitingForTools
from storage import streams
from storage.models import Conversation, Turn, TurnStatus, utcnow

if TYPE_CHECKING:
    from bot.backends.streams import RunStream

log = logging.getLogger("bot.engine")
T = TypeVar("T")
# The reason recorded for a run the user stopped (its outcome, and what the reply says).
STOPPED = "stopped"


class TurnMachine:
    """Drives this process's turns. `schedule(turn_id, when)` is the clock (set by the app)."""

    def __init__(self, ctx: TurnContext) -> None:
        self.ctx = ctx
        self.opening = Opening(ctx)
        self.starting = Starting(ctx)
        self.running = Running(ctx)
        self.tools = WaitingForTools(ctx)
        self.finishing = Finishing(ctx)
        self.reader = StreamReader(ctx)
        # turn id → the task reading its run's stream (one at a time per turn).
        self._readers: dict[int, asyncio.Task[None]] = {}

    @property
    def schedule(self) -> Schedule:
        return self.ctx.schedule

    @schedule.setter
    def schedule(self, schedule: Schedule) -> None:
        self.ctx.schedule = schedule

    # Entry points: a key with queued messages, a turn's next step ----------------------
    async def dispatch(self, key: str) -> None:
        """Open a turn over the key's queued messages and start it, if none is open."""
        book = self.ctx.book
        if key in book.open_keys:
            book.waiting_keys.add(key)
            return  # the open turn dispatches the key again when it ends
        async with self.ctx.db.session() as session:
            opened = await self.opening.open(session, key)
        if opened is not None:
            book.hold(opened)
            await self.advance(opened.id)

    async def advance(self, turn_id: int) -> None:
        """Do the turn's next step, if this process holds it (or can claim it) and is idle on it."""
        await self._step(turn_id, self._next_step, claim=True)

    async def push(self, turn_id: int, event: RunEvent) -> None:
        """Feed an event a source pushed (a stream's end) as the turn's next step; a turn
        busy with another step is polled instead, which sees the same."""
        if turn_id in self.ctx.book.in_flight or turn_id not in self.ctx.book.held:
            self.ctx.schedule(turn_id, utcnow())
            return
        await self._step(turn_id, lambda held: self.feed(held, event), claim=False)

    async def _next_step(self, held: HeldTurn) -> None:
        if held.turn.status == TurnStatus.STARTING:
            await self._start(held)
        elif held.turn.status == TurnStatus.RUNNING:
            if held.streaming:  # its stream reports the run's progress: no poll meanwhile
                self.ctx.schedule(held.id, utcnow() + STREAM_WATCH)
                return
            await self.feed(held, await self.running.poll(held))

    async def _step(
        self, turn_id: int, work: Callable[[HeldTurn], Awaitable[None]], *, claim: bool
    ) -> None:
        """One step of a turn: only while this process holds it, one at a time per turn,
        its lease renewed while the step runs; a failed step starts over from the rows."""
        ctx, book = self.ctx, self.ctx.book
        if turn_id in book.in_flight:
            return
        book.in_flight.add(turn_id)
        held: HeldTurn | None = None
        try:
            held = book.held.get(turn_id) or (await self._claim(turn_id) if claim else None)
            if held is None:
                return
            with ctx.keeper.running(held.turn):
                await work(held)
        except TurnLost:
            if held is not None:
                self._lost(held.turn)
        except Exception:
            if held is None:
                raise  # nothing was claimed: the sweep tries again
            log.exception("turn %s: a step failed; starting over from the database", turn_id)
            self._release(held.turn)
            ctx.schedule(turn_id, utcnow() + ctx.lease / 3)
        finally:
            book.in_flight.discard(turn_id)

    # Transitions ------------------------------------------------------------------------
    async def feed(self, held: HeldTurn, event: RunEvent) -> None:
        """Move the turn on by what its run reported, whichever source reported it."""
        match event:
            case Started():
                await self.running.started(held, event)
                if event.stream is not None:
                    self._follow(held, event.stream)
            case Unfinished():
                await self.running.wait(held, event.look_again)
            case Progress():
                if event.activity and event.activity != held.activity:
                    held.activity = event.activity
                    await self.ctx.view.progress(held.turn, event, held.messages)
                if event.next_poll is not None:
                    await self.running.wait(held, event.next_poll)
            case NeedsTools():
                await self._tool_round(held, event.state)
            case Finished() | Failed():
                await self._finish(held, event.state, event.notice)
            case StartFailed():
                follow = await self.starting.failed(held, event.error)
                if follow is not None:
                    await self.feed(held, follow)

    async def _start(self, held: HeldTurn) -> None:
        """starting → running: create what the turn needs, or find what a create left."""
        if held.tool_state is None and held.conversation.openai_id is None:
            created = await self._once(held, lambda: self.starting.create_conversation(held))
            if isinstance(created, StartFailed):
                await self.feed(held, created)
                return
        if held.must_look_first:
            found = await self.starting.recover(held)
            if found is not None:
                await self.feed(held, found)
                return
        if held.tool_state is not None:
            await self.feed(held, await self._once(held, lambda: self.tools.send_outputs(held)))
            return
        try:
            inputs = await self.starting.inputs(held, lambda: self.ctx.keeper.fence(held.turn))
        except BackendError as exc:  # OpenAI refused an upload
            await self.feed(held, StartFailed(exc))
            return
        if not inputs:
            cancelled = RunState(RunStatus.CANCELLED)
            await self.feed(held, Finished(cancelled, notice=messages.NOTHING_TO_SEND))
            return
        await self.feed(
            held, await self._once(held, lambda: self.starting.create_run(held, inputs))
        )

    async def _tool_round(self, held: HeldTurn, state: RunState) -> None:
        """running → waiting for tools → starting (outputs stored) → running (outputs sent)."""
        if held.stop_requested:  # the user pressed Stop: no more rounds
            closed = await self._once(held, lambda: self.tools.stop(held, state))
            if isinstance(closed, Finished):  # the open calls are answered: usable again
                state = closed.state
            stopped = RunState(RunStatus.CANCELLED, reason=STOPPED, watermark=state.watermark)
            await self._finish(held, stopped, None)
            return
        round_ = self.tools.plan(held, state)
        if round_ is None:
            await self.feed(held, await self._once(held, lambda: self.tools.stop(held, state)))
            return
        step: ToolStep | None = None
        if round_.todo:
            names = ", ".join(sorted({call.name for call in round_.todo}))
            if streaming_backend(self.ctx, held.conversation) is not None:
                # A task card in the streamed answer ("Calling lookup_order").
                step = ToolStep(f"functions-{state.watermark}", f"Calling {names}", "in_progress")
            calling = Progress(activity=f"calling {names}", step=step)
            await self.ctx.view.progress(held.turn, calling, held.messages)
        # A function may run up to FUNCTION_TIMEOUT_SECONDS, which the settings keep within
        # one lease: claimed for a whole lease from now, no other process can run these calls
        # too, even if this process could renew nothing more while they run.
        await self.ctx.keeper.fence(held.turn, full=True)
        await self.tools.run(held, state, round_)
        if step is not None:
            done = Progress(step=replace(step, status="complete"))
            await self.ctx.view.progress(held.turn, done, held.messages)
        # The run was just seen waiting for these outputs: send them without looking first.
        await self.feed(held, await self._once(held, lambda: self.tools.send_outputs(held)))

    async def _finish(self, held: HeldTurn, state: RunState, notice: str | None) -> None:
        """finishing → delivering → done; the key's next turn opens beside the delivery."""
        stopped = held.stop_requested or bool(held.streamed_text)
        if state.status is RunStatus.CANCELLED and notice is None and stopped:
            # Stopped by the user (here or in another process): what was said stays.
            state = RunState(
                RunStatus.CANCELLED,
                text=held.streamed_text,
                reason=STOPPED,
                watermark=state.watermark,
            )
        outbox = await self.finishing.record(held, state, notice)
        self._release(held.turn)
        if not outbox:
            log.warning("turn %s was taken over by another process", held.id)
            self.ctx.view.forget(held.id)  # its answer is the new holder's to end
            return
        # Messages that arrived during the run waited for this turn to end: their turn
        # starts while this reply is posted, not after (each part and reaction is a Slack
        # call). Should either fail, the other still runs; what failed waits for the sweep.
        outcomes = await asyncio.gather(
            self.ctx.view.finished(held.turn, outbox, held.messages),
            self._continue(held.turn.key),
            return_exceptions=True,
        )
        failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        for failure in failures[1:]:
            log.error("turn %s: starting the next turn failed too", held.id, exc_info=failure)
        if failures:
            raise failures[0]

    async def _continue(self, key: str) -> None:
        """Open and start the key's next turn, if messages are waiting."""
        following = await self.opening.open_next(key)
        if following is not None:
            self.ctx.book.hold(following)
            await self.advance(following.id)

    # The run's stream, read beside the turn ----------------------------------------------
    def _follow(self, held: HeldTurn, stream: RunStream) -> None:
        """Read the run's stream in the background; its end becomes the turn's next step."""
        held.streaming = True
        task = asyncio.create_task(self._read(held, stream), name=f"stream of turn {held.id}")
        self._readers[held.id] = task

        def done(finished: asyncio.Task[None]) -> None:
            if self._readers.get(held.id) is finished:
                del self._readers[held.id]

        task.add_done_callback(done)

    async def _read(self, held: HeldTurn, stream: RunStream) -> None:
        end: RunEvent | None = None
        try:
            # The turn is this process's while its stream is read: the lease is renewed.
            with self.ctx.keeper.running(held.turn):
                end = await self.reader.read(held, stream)
        except Exception:
            log.exception("turn %s: reading the run's stream failed; polling", held.id)
        finally:
            held.streaming = False
        if self.ctx.book.held.get(held.id) is not held:
            return  # the turn ended or went to another process meanwhile
        if end is None:
            self.ctx.schedule(held.id, utcnow())
        else:
            await self.push(held.id, end)

    async def stop(self, turn_id: int, *, tries: int = 10) -> None:
        """Someone pressed Stop: cancel the turn's run at OpenAI. Any process may (the run's
        id is on the row); the holder's stream or poll then sees the run cancelled and
        answers with what was said so far. A run not created yet is cancelled once it is."""
        held = self.ctx.book.held.get(turn_id)
        if held is not None:
            held.stop_requested = True
        for attempt in range(tries):
            async with self.ctx.db.session() as session:
                turn = await streams.unfinished_run(session=session, turn_id=turn_id)
                conversation = (
                    await session.get(Conversation, turn.conversation_id) if turn else None
                )
            if turn is None or conversation is None:
                return  # it ended: a Stop after the end changes nothing
            if turn.status == TurnStatus.RUNNING and turn.run_id:
                try:
                    await self.ctx.backend_for(conversation).cancel_run(
                        conversation_id=conversation.openai_id or "", run_id=turn.run_id
                    )
                except BackendError as exc:
                    log.warning("turn %s: cancelling its run failed: %s", turn_id, exc)
                    continue
                log.info("turn %s: stopped by the user; run %s cancelled", turn_id, turn.run_id)
                return
            await asyncio.sleep(min(2.0, 0.25 * 2**attempt))

    async def close(self) -> None:
        """Stop reading streams (shutting down): their turns are polled by whoever holds
        them next."""
        readers = list(self._readers.values())
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)

    # The checks every transition shares -------------------------------------------------
    async def _once(self, held: HeldTurn, call: Callable[[], Awaitable[T]]) -> T | StartFailed:
        """A call that must not happen twice: made only while this process holds the turn
        (raises TurnLost otherwise); an error answer becomes StartFailed, tried again only
        after a look for what it may have created."""
        await self.ctx.keeper.fence(held.turn)
        try:
            return await call()
        except BackendError as exc:
            return StartFailed(exc)

    async def _claim(self, turn_id: int) -> HeldTurn | None:
        """Take over a turn another process left (or this one, before a restart or after a
        failed step): rebuilt from its rows."""
        ctx = self.ctx
        held = await claim(ctx.db, turn_id=turn_id, owner=ctx.owner, lease=ctx.lease)
        if held is not None:
            ctx.book.hold(held)
        return held

    def _release(self, turn: Turn) -> None:
        """Forget the turn: it ended, or this process no longer holds it."""
        assert turn.id is not None
        self.ctx.book.release(turn)
        self.ctx.keeper.forget(turn.id)
        reader = self._readers.pop(turn.id, None)
        if reader is not None and reader is not asyncio.current_task():
            reader.cancel()

    def _lost(self, turn: Turn) -> None:
        """This process's lease ran out and another process took the turn: let it go."""
        assert turn.id is not None
        log.warning("turn %s was taken over by another process", turn.id)
        self._release(turn)
        # Messages that came meanwhile are the new holder's (or the sweep's) to answer.
        self.ctx.book.waiting_keys.discard(turn.key)
        self.ctx.view.forget(turn.id)
