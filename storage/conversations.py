"""Conversations: each key's current conversation with each assistant, and its OpenAI id."""

from __future__ import annotations

from sqlalchemy import bindparam, text, update
from sqlalchemy import select as core_select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import execute
from storage.models import Conversation, utcnow
from storage.upsert import insert_ignore, table_of

# Every turn runs this: built once (see `storage.db.execute`).
_conversations = table_of(Conversation)
_CURRENT_CONVERSATION = core_select(_conversations).where(
    _conversations.c.key == bindparam("key"),
    _conversations.c.assistant == bindparam("assistant"),
    _conversations.c.retired_at.is_(None),
)


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


async def retire_conversation(*, session: AsyncSession, key: str, assistant: str) -> bool:
    """Start afresh: the key's current conversation with `assistant` stays recorded, unused."""
    result = await session.exec(
        update(Conversation)
        .where(
            col(Conversation.key) == key,
            col(Conversation.assistant) == assistant,
            col(Conversation.retired_at).is_(None),
        )
        .values(retired_at=utcnow())
    )
    return bool(getattr(result, "rowcount", 0))
