"""A turn's brief: what its run gets besides the messages (instructions, cache key, safety id).

Built at each create of the turn (`Starting.create_run`, `WaitingForTools.send_outputs`).
The per-turn instructions come from `TurnContext.instructions` within `INSTRUCTIONS_SECONDS`;
a slow or failing source is logged and the turn goes on without them.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from bot.assistants import Assistant
from bot.backends.base import TurnBrief
from storage.models import Conversation, InboundMessage

if TYPE_CHECKING:
    from bot.turns.context import TurnContext
    from bot.turns.held import HeldTurn

log = logging.getLogger("bot.engine")

# Never delay a turn for its instructions longer than this.
INSTRUCTIONS_SECONDS = 1.0


class TurnInstructions(Protocol):
    """Per-turn instructions (who asks, where, when), added after the assistant's own."""

    async def for_turn(self, queued: list[InboundMessage], assistant: Assistant) -> str | None: ...


def cache_key(conversation: Conversation) -> str:
    """The `prompt_cache_key` of a conversation: its OpenAI id (one per conversation, and
    no Slack id in it); the bridge's row id before the conversation exists."""
    return conversation.openai_id or f"bridge-conversation-{conversation.id}"


def safety_id(team_id: str, user_id: str) -> str:
    """The `safety_identifier` of a Slack user: a sha256 of team and user, never the raw ids
    (the API asks for a hash, at most 128 characters)."""
    return hashlib.sha256(f"{team_id}:{user_id}".encode()).hexdigest()


async def build_brief(ctx: TurnContext, held: HeldTurn, *, force_truncation: bool) -> TurnBrief:
    """The brief of the turn's next create; `force_truncation` after `context_length_exceeded`."""
    newest = held.messages[-1] if held.messages else None
    brief = TurnBrief(
        cache_key=cache_key(held.conversation),
        safety_id=safety_id(newest.team_id, newest.user_id) if newest else None,
        force_truncation=force_truncation,
        request_key=f"assistant-bridge-turn-{held.id}",
        after=held.conversation.watermark,
    )
    if ctx.instructions is None:
        return brief
    assistant = ctx.assistant_for(held.conversation)
    text = await instructions_for(ctx.instructions, held.messages, assistant, turn_id=held.id)
    return replace(brief, instructions=text)


async def instructions_for(
    source: TurnInstructions,
    queued: list[InboundMessage],
    assistant: Assistant,
    *,
    turn_id: int,
    seconds: float = INSTRUCTIONS_SECONDS,
) -> str | None:
    """The turn's instructions from `source`, or None when it fails or takes over `seconds`."""
    try:
        async with asyncio.timeout(seconds):
            return await source.for_turn(list(queued), assistant) or None
    except TimeoutError:
        log.warning("turn %s: turn instructions took over %ss; skipped", turn_id, seconds)
    except Exception:  # never fail a turn for its instructions
        log.exception("turn %s: building the turn instructions failed; skipped", turn_id)
    return None
