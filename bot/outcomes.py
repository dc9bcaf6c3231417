"""What a finished run means for the user, and how long to wait before trying again."""

from __future__ import annotations

import random

from bot import messages
from bot.backends import RunState, RunStatus
from bot.backends.base import Pending
from bot.render import split_markdown


def backoff(attempt: int, *, base: float = 1.0, cap: float = 60.0) -> float:
    """Capped exponential back-off with full jitter."""
    return random.uniform(base / 2, min(cap, base * 2 ** max(0, attempt)))


def reply_parts(state: RunState) -> list[str]:
    """What to post for a finished run: the answer split for Slack, or a clear notice."""
    match state.status:
        case RunStatus.COMPLETED:
            return split_markdown(state.text) or [messages.EMPTY_ANSWER]
        case RunStatus.CANCELLED:
            return [messages.RUN_CANCELLED]
        case RunStatus.EXPIRED:
            return [messages.RUN_EXPIRED]
        case RunStatus.INCOMPLETE:
            # Keep what the model did write before it stopped, then say why it stopped.
            return [*split_markdown(state.text), messages.incomplete(state.reason)]
        case _ if state.reason == "context_length_exceeded":
            return [messages.CONTEXT_FULL]
        case _:
            return [messages.RUN_FAILED]


def describe_recovered(found: str | RunState | Pending | None) -> str:
    """For the log: what recovery found, never the answer's text."""
    if isinstance(found, RunState):
        return f"finished ({found.status.value})"
    if isinstance(found, Pending):
        return "created, still running"
    return f"run {found}" if found else "nothing: starting it again"
