"""What every state of a turn works with: the database, the backends, the lease, the view."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.assistants import Assistant, Assistants
from bot.backends import Backend, Backends
from bot.turns.brief import TurnInstructions
from bot.turns.events import TurnInputs, TurnView
from bot.turns.held import TurnBook
from bot.turns.leases import LeaseKeeper
from bot.turns.poll_planner import PollPlanner
from storage.db import Database
from storage.models import Conversation

if TYPE_CHECKING:  # handed to functions as ToolContext.slack; the turns never call Slack
    from slack_sdk.web.async_client import AsyncWebClient

# The clock: run the turn's next step at this time (`TurnMachine.advance`).
Schedule = Callable[[int, datetime], None]


@dataclass
class TurnContext:
    """The parts of the bridge a turn's states share (one per process)."""

    db: Database
    backends: Backends
    assistants: Assistants
    owner: str
    lease: timedelta
    keeper: LeaseKeeper
    planner: PollPlanner
    view: TurnView
    run_timeout: timedelta = timedelta(minutes=10)
    function_timeout: float = 30.0
    # STREAMING=on: runs are created streamed where the backend can (`bot.turns.streaming`).
    streaming: bool = False
    inputs: TurnInputs | None = None
    # Per-turn instructions (who asks, where): asked at each create, never waited on long.
    instructions: TurnInstructions | None = None
    slack: AsyncWebClient | None = None
    book: TurnBook = field(default_factory=TurnBook)
    schedule: Schedule = field(default=lambda turn_id, when: None)

    def assistant_for(self, conversation: Conversation) -> Assistant:
        return self.assistants.get(conversation.assistant) or self.assistants.default

    def backend_for(self, conversation: Conversation) -> Backend:
        return self.backends.by_kind(conversation.backend)
