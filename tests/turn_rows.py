"""Rows the storage tests and `bench/storage_calls.py` start from: a DM and the turn over it."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from storage import conversations, turns
from storage.models import InboundMessage, Turn


def dm_message(
    user: str, ts: str, *, text: str = "hello", thread_ts: str | None = None
) -> InboundMessage:
    """A DM from `user` (team T, channel D<user>), as the event handler stores it."""
    return InboundMessage(
        key=f"user:T/{user}",
        team_id="T",
        channel_id=f"D{user}",
        user_id=user,
        message_ts=ts,
        reply_thread_ts=thread_ts,
        event_id=f"Ev{ts}",
        text=text,
    )


async def open_turn_over_pending(
    session: AsyncSession, *, key: str, owner: str, lease: timedelta, assistant: str = "default"
) -> Turn:
    """Open a turn over the key's queued messages as the engine does (pending messages, the
    conversation, the turn); the turn, held by `owner`."""
    pending = await turns.pending_messages(session=session, key=key)
    conversation = await conversations.current_conversation(
        session=session, key=key, assistant=assistant, backend="responses"
    )
    opened = await turns.open_turn(
        session=session,
        key=key,
        conversation_id=conversation.id or 0,
        pending=pending,
        owner=owner,
        lease=lease,
    )
    assert opened is not None and opened[0].id is not None
    return opened[0]
