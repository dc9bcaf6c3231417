"""A TurnView for tests of the turn machine: it records what the machine tells it."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.backends import RunState
from bot.slack.replies import reply_parts
from bot.turns.events import Progress
from storage.models import InboundMessage, Reply, Turn


@dataclass
class RecordingView:
    """Remembers progress, delivered replies and turns lost to another process."""

    progress_seen: list[tuple[int | None, Progress]] = field(default_factory=list)
    delivered: list[list[Reply]] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)

    def reply(self, state: RunState) -> list[str]:
        return reply_parts(state)

    async def progress(self, turn: Turn, event: Progress) -> None:
        self.progress_seen.append((turn.id, event))

    async def finished(self, parts: list[Reply], answered: list[InboundMessage]) -> None:
        self.delivered.append(parts)

    def forget(self, turn_id: int) -> None:
        self.lost.append(turn_id)
