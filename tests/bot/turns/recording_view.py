"""For tests of the turn machine: a TurnView that records what the machine tells it, and
the machine itself over one assistant, owned by "me"."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from bot.assistants import Assistant, Assistants
from bot.backends import Backends, RunState
from bot.slack.replies import reply_parts
from bot.turns.context import TurnContext
from bot.turns.events import Progress
from bot.turns.leases import LeaseKeeper
from bot.turns.machine import TurnMachine
from bot.turns.poll_planner import PollPlanner
from storage.db import Database
from storage.models import InboundMessage, Reply, Turn


@dataclass
class RecordingView:
    """Remembers progress, delivered replies and turns lost to another process."""

    progress_seen: list[tuple[int | None, Progress]] = field(default_factory=list)
    delivered: list[list[Reply]] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)

    def reply(self, state: RunState) -> list[str]:
        return reply_parts(state)

    async def progress(self, turn: Turn, event: Progress, asked: list[InboundMessage]) -> None:
        self.progress_seen.append((turn.id, event))

    async def finished(
        self, turn: Turn, parts: list[Reply], answered: list[InboundMessage]
    ) -> None:
        self.delivered.append(parts)

    def forget(self, turn_id: int) -> None:
        self.lost.append(turn_id)


def build_machine(
    *,
    db: Database,
    backends: Backends,
    assistant: Assistant,
    view: RecordingView,
    lease: timedelta,
    planner: PollPlanner,
) -> TurnMachine:
    """A turn machine as the bridge builds one, owned by "me", answering with `assistant`."""
    return TurnMachine(
        TurnContext(
            db=db,
            backends=backends,
            assistants=Assistants(by_name={assistant.name: assistant}, default_name=assistant.name),
            owner="me",
            lease=lease,
            keeper=LeaseKeeper(db=db, owner="me", lease=lease),
            planner=planner,
            view=view,
        )
    )
