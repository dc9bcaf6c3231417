"""Starting a turn's run: create it, or find one a crash or a lost answer hid."""

from __future__ import annotations

import logging
from datetime import timedelta

from bot import messages
from bot.backends import Backend, RunState, RunStatus
from bot.backends.base import Pending, UserMessage
from bot.engine_core import Driving, EngineCore
from bot.errors import BackendError
from bot.outcomes import backoff, describe_recovered
from storage import queue, turns
from storage.models import Conversation, utcnow

log = logging.getLogger("bot.engine")


class StartSteps(EngineCore):
    """The steps of a turn before its run is known to exist."""

    async def _start(self, driving: Driving) -> None:
        turn, conversation = driving.turn, driving.conversation
        assistant = self.assistant_for(conversation)
        backend = self.backends.by_kind(conversation.backend)
        assert turn.id is not None and conversation.id is not None
        if driving.tool_state is not None:
            await self._start_tools(driving, backend)
            return
        try:
            if conversation.openai_id is None:
                await self._fence(driving)
                conversation.openai_id = await backend.create_conversation(
                    key=conversation.key, assistant=assistant
                )
                async with self.db.session(single=True) as session:
                    await queue.set_conversation_openai_id(
                        session=session,
                        conversation_id=conversation.id,
                        openai_id=conversation.openai_id,
                    )
            # A create has no idempotency key, and a crash or a lost answer can hide one that
            # took effect: before any second attempt, look for the run first.
            if (driving.resumed or turn.attempts) and await self._recover(driving, backend):
                return
            inputs = (
                await self.inputs.build(driving.messages, backend, lambda: self._fence(driving))
                if self.inputs is not None
                else [UserMessage(m.text) for m in driving.messages]
            )
            if not inputs:
                await self._finish(
                    driving, RunState(RunStatus.CANCELLED), notice=messages.NOTHING_TO_SEND
                )
                return
            await self._fence(driving)
            run_id = await backend.start_run(
                conversation_id=conversation.openai_id,
                assistant=assistant,
                messages=inputs,
            )
        except BackendError as exc:
            await self._start_failed(driving, exc)
            return
        first = utcnow() + timedelta(seconds=self.planner.next_delay(assistant.name, 0.0))
        await self._started(driving, run_id, first)
        log.info("turn %s started run %s on %s", turn.id, run_id, conversation.openai_id)

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
        log.warning("turn %s: looked for an unrecorded run: %s", turn.id, describe_recovered(found))
        if found is None:
            return False
        if isinstance(found, RunState) and found.status is RunStatus.REQUIRES_ACTION:
            # The run waits for function outputs: unsent ones this turn holds are sent by
            # the caller; new calls are run first.
            if driving.tool_state is not None and driving.tool_state.answers(found.tool_calls):
                return False
            await self._run_tools(driving, found)
        elif isinstance(found, RunState):
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
            held = await turns.record_start_failure(
                session=session,
                turn_id=turn.id,
                owner=self.owner,
                next_attempt_at=retry_at,
                error=str(exc),
                lease=self.lease,
            )
        if not held:
            self._lost(turn)
            return
        turn.attempts += 1
        turn.lease_until = retry_at + self.lease
        self.schedule(turn.id, retry_at)
