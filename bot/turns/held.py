"""The turns this process holds: a cache of their database rows, dropped on any doubt."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.turns.tool_round import ToolState
from storage import turns
from storage.db import Database
from storage.models import Conversation, InboundMessage, Turn


@dataclass
class HeldTurn:
    """A turn this process holds, with what its next steps need (read from its rows).

    `resumed`: claimed rather than opened here, so a create may already have been sent.
    """

    turn: Turn
    conversation: Conversation
    messages: list[InboundMessage]
    resumed: bool = False
    polls: int = 0
    # The tool round whose outputs are computed (stored in `turn.tool_state`).
    tool_state: ToolState | None = None
    # What the run was last seen doing, so the view changes only when it does.
    activity: str | None = None
    # Seconds after the run's start at which a poll last saw it running (this process).
    running_at: float | None = None
    # The run's event stream while this process reads it (polls wait meanwhile), and the
    # answer text it brought so far (what a Stop keeps).
    streaming: bool = False
    streamed_text: str = ""
    # Someone pressed Stop (in this process): no further tool round is started.
    stop_requested: bool = False
    # The last create was refused with `context_length_exceeded`: the retry forces truncation.
    force_truncation: bool = False

    @property
    def id(self) -> int:
        assert self.turn.id is not None
        return self.turn.id

    @property
    def must_look_first(self) -> bool:
        """A create may have happened that nothing here recorded (a takeover, a failed
        attempt): look for its run before creating one."""
        return self.resumed or self.turn.attempts > 0


class TurnBook:
    """What this process remembers of its turns: every entry is dropped with its turn."""

    def __init__(self) -> None:
        self.held: dict[int, HeldTurn] = {}
        self.open_keys: set[str] = set()
        # Keys that got messages while their turn ran (dispatch saw the turn open).
        self.waiting_keys: set[str] = set()
        # Turns whose step runs now (one step at a time per turn).
        self.in_flight: set[int] = set()

    def hold(self, held: HeldTurn) -> None:
        self.held[held.id] = held
        self.open_keys.add(held.turn.key)

    def release(self, turn: Turn) -> None:
        assert turn.id is not None
        self.held.pop(turn.id, None)
        self.open_keys.discard(turn.key)


async def claim(db: Database, *, turn_id: int, owner: str, lease: timedelta) -> HeldTurn | None:
    """Take the turn up from its rows (after a takeover, a restart or a failed step); None
    if another process holds it or it is done."""
    async with db.session() as session:
        turn = await turns.claim_turn(session=session, turn_id=turn_id, owner=owner, lease=lease)
        if turn is None:
            return None
        conversation = await session.get(Conversation, turn.conversation_id)
        queued = await turns.turn_messages(session=session, turn_id=turn_id)
    if conversation is None:
        return None
    return HeldTurn(
        turn,
        conversation,
        queued,
        resumed=True,
        polls=turn.polls,
        tool_state=ToolState.from_json(turn.tool_state),
    )
