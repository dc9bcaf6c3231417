"""A run's usage as the row it is recorded as: who asked, where, on which assistant."""

from __future__ import annotations

from bot.backends import RunState
from bot.turns.held import HeldTurn
from storage.models import UsageRecord, utcnow


def usage_row(held: HeldTurn, state: RunState, *, assistant: str) -> UsageRecord | None:
    """The record of the run `held` polls (its `run_id`), if the API reported its usage.

    Team, channel and user are those of the turn's newest message: the person whose
    question this run answers, as budgets per user and channel will count it.
    """
    usage, turn = state.usage, held.turn
    if usage is None or not turn.run_id:
        return None
    newest = max(held.messages, key=lambda m: float(m.message_ts), default=None)
    return UsageRecord(
        run_id=turn.run_id,
        turn_id=turn.id,
        team_id=newest.team_id if newest else "",
        channel_id=newest.channel_id if newest else turn.channel_id,
        user_id=newest.user_id if newest else "",
        key=turn.key,
        assistant=assistant,
        backend=held.conversation.backend,
        model=usage.model,
        input_tokens=usage.input_tokens,
        cached_tokens=usage.cached_tokens,
        output_tokens=usage.output_tokens,
        reasoning_tokens=usage.reasoning_tokens,
        tool_calls=usage.tool_calls,
        recorded_at=utcnow(),
    )
