"""The inbound side: accepted Slack messages, bot threads, and each key's conversations."""

from __future__ import annotations

from sqlalchemy import bindparam, text, update
from sqlalchemy import select as core_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import execute
from storage.models import BotThread, Conversation, InboundMessage, Turn, utcnow
from storage.upsert import PerDialect, insert_ignore, table_of

# Every message and every turn runs these: built once (see `storage.db.execute`).
_messages = table_of(InboundMessage)
_conversations = table_of(Conversation)
_ENQUEUE = PerDialect(
    lambda insert: insert(_messages).on_conflict_do_nothing(
        index_elements=["channel_id", "message_ts"]
    )
)
_CURRENT_CONVERSATION = core_select(_conversations).where(
    _conversations.c.key == bindparam("key"),
    _conversations.c.assistant == bindparam("assistant"),
    _conversations.c.retired_at.is_(None),
)


async def enqueue_message(*, session: AsyncSession, message: InboundMessage) -> bool:
    """Store a message unless the same Slack message is already stored; True if it is new."""
    result = await execute(session, _ENQUEUE.for_(session), message.model_dump(exclude={"id"}))
    return bool(result.rowcount)


async def remember_bot_thread(*, session: AsyncSession, channel_id: str, thread_ts: str) -> None:
    stmt = (
        insert_ignore(session, BotThread)
        .values(channel_id=channel_id, thread_ts=thread_ts, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["channel_id", "thread_ts"])
    )
    await session.exec(stmt)


async def is_bot_thread(*, session: AsyncSession, channel_id: str, thread_ts: str) -> bool:
    found = await session.get(BotThread, (channel_id, thread_ts))
    return found is not None


async def pending_keys(*, session: AsyncSession, limit: int = 200) -> list[str]:
    """Keys with messages not yet given to a turn and no turn open (which would take them)."""
    open_turn = select(Turn.id).where(Turn.key == InboundMessage.key, Turn.status != "done")
    stmt = (
        select(InboundMessage.key)
        .where(col(InboundMessage.turn_id).is_(None), ~open_turn.exists())
        .distinct()
        .limit(limit)
    )
    return list((await session.exec(stmt)).all())


async def current_conversation(
    *, session: AsyncSession, key: str, assistant: str, backend: str
) -> Conversation:
    """The key's current conversation with `assistant`, created (without an OpenAI id) if new."""
    params = {"key": key, "assistant": assistant}
    found = (await execute(session, _CURRENT_CONVERSATION, params)).one_or_none()
    if found is not None:
        return Conversation.model_validate(found._asdict())
    stmt = (
        insert_ignore(session, Conversation)
        .values(key=key, assistant=assistant, backend=backend, created_at=utcnow())
        .on_conflict_do_nothing(
            index_elements=["key", "assistant"], index_where=text("retired_at IS NULL")
        )
    )
    await session.exec(stmt)
    created = (await execute(session, _CURRENT_CONVERSATION, params)).one()
    return Conversation.model_validate(created._asdict())


async def set_conversation_openai_id(
    *, session: AsyncSession, conversation_id: int, openai_id: str
) -> None:
    await session.exec(
        update(Conversation)
        .where(col(Conversation.id) == conversation_id)
        .values(openai_id=openai_id)
    )
