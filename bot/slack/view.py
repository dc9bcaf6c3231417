"""How a turn shows in Slack: its answer streamed as it is written (where it may), tool
steps as task cards in it, else the status line; the reply delivered as posted parts.

The turn's state machine tells this view what happens (`bot.turns.events.TurnView`) and
never imports Slack.
"""

from __future__ import annotations

from bot.backends import RunState
from bot.slack.answers import AnswerStreams
from bot.slack.delivery import Deliverer
from bot.slack.replies import reply_parts
from bot.slack.status import StatusBoard
from bot.turns.events import Progress
from storage.models import InboundMessage, Reply, Turn


class SlackView:
    """A turn's progress as a live answer (or the status line); its reply as parts."""

    def __init__(
        self,
        *,
        status: StatusBoard,
        deliverer: Deliverer,
        answers: AnswerStreams | None = None,
    ) -> None:
        self.status = status
        self.deliverer = deliverer
        self.answers = answers

    def reply(self, state: RunState) -> list[str]:
        return reply_parts(state)

    async def progress(self, turn: Turn, event: Progress, asked: list[InboundMessage]) -> None:
        live = None
        if self.answers is not None and (event.text or event.step is not None):
            live = self.answers.live(turn, asked)
        if live is None:
            if event.activity:
                await self.status.show(turn, event.activity)
            return
        if event.step is not None:
            step = event.step
            live.task(
                step.step_id, step.title, step.status, [(s.url, s.title) for s in step.sources]
            )
        if event.text:
            live.write(event.text)

    async def finished(
        self, turn: Turn, parts: list[Reply], answered: list[InboundMessage]
    ) -> None:
        assert turn.id is not None
        live = self.answers.take(turn.id) if self.answers is not None else None
        # A message an earlier holder streamed into is ended, never posted beside.
        stream_ts = turn.stream_ts if live is None else None
        await self.deliverer.deliver_new(parts, answered, live=live, stream_ts=stream_ts)

    def forget(self, turn_id: int) -> None:
        self.status.forget(turn_id)
        if self.answers is not None:
            self.answers.drop(turn_id)
