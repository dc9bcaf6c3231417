"""What a finished run posts in Slack: its answer split into messages, or a clear notice."""

from __future__ import annotations

from bot import messages
from bot.backends import RunState, RunStatus
from bot.slack.render import split_markdown


def reply_parts(state: RunState) -> list[str]:
    """What to post for a finished run: the answer split for Slack, or a clear notice."""
    match state.status:
        case RunStatus.COMPLETED:
            return split_markdown(state.text) or [messages.EMPTY_ANSWER]
        case RunStatus.CANCELLED if state.reason == "stopped":
            # Stopped by the user: what was said so far, marked as stopped.
            if not state.text.strip():
                return [messages.STOPPED_BEFORE_ANSWER]
            return split_markdown(f"{state.text.rstrip()}\n\n{messages.STOPPED_MARK}")
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
