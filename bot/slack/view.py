"""How a turn shows in Slack today: the "working" reaction, the status line, posted parts.

The turn's state machine tells this view what happens (`bot.turns.events.TurnView`); the
next issue's native streams plug in here, not in the machine.
"""

from __future__ import annotations

from bot.backends import RunState
from bot.slack.delivery import Deliverer
from bot.slack.replies import reply_parts
from bot.slack.status import StatusBoard
from bot.turns.events import Progress
from storage.models import InboundMessage, Reply, Turn


class SlackView:
    """A turn's progress as the status line; its reply as posted parts."""

    def __init__(self, *, status: StatusBoard, deliverer: Deliverer) -> None:
        self.status = status
        self.deliverer = deliverer

    def reply(self, state: RunState) -> list[str]:
        return reply_parts(state)

    async def progress(self, turn: Turn, event: Progress) -> None:
        if event.activity:
            await self.status.show(turn, event.activity)

    async def finished(self, parts: list[Reply], answered: list[InboundMessage]) -> None:
        await self.deliverer.deliver_new(parts, answered)

    def forget(self, turn_id: int) -> None:
        self.status.forget(turn_id)
