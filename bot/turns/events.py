"""What a run reports, whatever reports it: the few events a turn's state machine consumes.

A poll result, a server-sent event of a streamed response, an event of an Agents API
session stream or a webhook all become one of these and are fed to `TurnMachine.feed`.
Polling (`running.py`) is one source among them, kept as the safety net: a turn fed by a
stream that drops is simply polled, as every turn is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from bot.backends import Backend, RunState, RunStatus
from bot.backends.base import UserMessage
from bot.errors import BackendError
from storage.models import InboundMessage, Reply, Turn

if TYPE_CHECKING:
    from bot.backends.streams import RunStream, ToolStep


@dataclass(frozen=True)
class Started:
    """The run exists at OpenAI (created, adopted, or resumed with tool outputs)."""

    run_id: str
    first_poll: datetime
    # The run's events as they happen, when it was created streamed: fed to the turn as
    # they come (`TurnMachine.follow`); the polls wait while the stream flows.
    stream: RunStream | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Unfinished:
    """A create took effect (its input is in the conversation) but the run's id is unknown
    and it has not finished: look again later."""

    look_again: datetime


@dataclass(frozen=True)
class Progress:
    """The run goes on: what it is doing (`activity`, "running code"; `step`, the same as
    a streamed step with its status) and/or new answer text. `next_poll`: when a polling
    source looks next (None for a pushed event)."""

    activity: str | None = None
    text: str = ""
    next_poll: datetime | None = None
    step: ToolStep | None = None


@dataclass(frozen=True)
class NeedsTools:
    """The run waits for the outputs of the function calls in `state.tool_calls`."""

    state: RunState


@dataclass(frozen=True)
class Finished:
    """The run ended (completed, incomplete, cancelled, expired): `state` holds the answer,
    or `notice` is what to say instead."""

    state: RunState
    notice: str | None = None


@dataclass(frozen=True)
class Failed:
    """The run (or the request to start it) failed: `notice` is what to say, if not the
    usual sentence for `state`."""

    state: RunState
    notice: str | None = None


@dataclass(frozen=True)
class StartFailed:
    """A create (or a send of tool outputs) was answered with an error."""

    error: BackendError


RunEvent = Started | Unfinished | Progress | NeedsTools | Finished | Failed | StartFailed


def event_of(state: RunState, *, next_poll: datetime | None = None) -> RunEvent:
    """What a poll's (or a recovery's) RunState says, as an event."""
    if state.status is RunStatus.RUNNING:
        return Progress(activity=state.activity, next_poll=next_poll)
    if state.status is RunStatus.REQUIRES_ACTION:
        return NeedsTools(state)
    if state.status is RunStatus.FAILED:
        return Failed(state)
    return Finished(state)


class TurnView(Protocol):
    """How the user sees a turn (today: Slack's reaction, status line and posted parts).

    The state machine tells it what happens and never imports Slack.
    """

    def reply(self, state: RunState) -> list[str]:
        """The parts to post for a finished run (its answer, or a clear notice)."""
        ...

    async def progress(self, turn: Turn, event: Progress, asked: list[InboundMessage]) -> None:
        """The run is doing something worth showing (`asked`: the turn's messages)."""
        ...

    async def finished(
        self, turn: Turn, parts: list[Reply], answered: list[InboundMessage]
    ) -> None:
        """The turn's reply is in the outbox: deliver it."""
        ...

    def forget(self, turn_id: int) -> None:
        """Another process took the turn over: drop what is remembered of it."""
        ...


class TurnInputs(Protocol):
    """Builds a run's input from the turn's queued messages, moving their files (from Slack
    to OpenAI: `bot.slack.inputs.InputBuilder`); `fence` runs before each upload."""

    async def build(
        self,
        queued: list[InboundMessage],
        backend: Backend,
        fence: Callable[[], Awaitable[None]],
        *,
        read_files: bool = True,
    ) -> list[UserMessage]: ...
