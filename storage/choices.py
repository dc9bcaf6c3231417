"""Per-key assistant choices (`/assistant use`) and resets (`/assistant reset`)."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import AssistantChoice, utcnow
from storage.upsert import insert_ignore


async def choose_assistant(
    *, session: AsyncSession, key: str, assistant: str, user_id: str
) -> None:
    """Record that `key` now uses `assistant` (replacing an earlier choice)."""
    now = utcnow()
    stmt = insert_ignore(session, AssistantChoice).values(
        key=key, assistant=assistant, chosen_by=user_id, chosen_at=now
    )
    await session.exec(
        stmt.on_conflict_do_update(
            index_elements=["key"],
            set_={"assistant": assistant, "chosen_by": user_id, "chosen_at": now},
        )
    )


async def current_choice(*, session: AsyncSession, keys: list[str]) -> AssistantChoice | None:
    """The choice for the first of `keys` that has one (a thread falls back to its channel)."""
    found = (
        await session.exec(select(AssistantChoice).where(col(AssistantChoice.key).in_(keys)))
    ).all()
    by_key = {choice.key: choice for choice in found}
    return next((by_key[key] for key in keys if key in by_key), None)
