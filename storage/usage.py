"""Token usage on record: one row per OpenAI response or run, summed for reports and budgets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import execute
from storage.models import UsageRecord
from storage.upsert import PerDialect, dialect_of, table_of

_usage = table_of(UsageRecord)


class UsageBy(StrEnum):
    """What the report sums by."""

    ASSISTANT = "assistant"
    USER = "user"
    CHANNEL = "channel"
    DAY = "day"


@dataclass(frozen=True)
class UsageTotal:
    """The usage summed over one group (an assistant, a user, a channel or a day)."""

    group: str
    runs: int
    input_tokens: int
    cached_tokens: int
    output_tokens: int
    reasoning_tokens: int
    tool_calls: int


def usage_values(record: UsageRecord) -> dict[str, Any]:
    """The record's columns (all but the id), as insert values."""
    return record.model_dump(exclude={"id"})


# Built once per dialect (a turn's finish runs it on SQLite: 100 turns a second).
_RECORD = PerDialect(
    lambda insert: insert(_usage).on_conflict_do_nothing(index_elements=["run_id"])
)


async def record_usage(*, session: AsyncSession, record: UsageRecord) -> None:
    """Store `record` unless its run is on record already: the run id is the record's
    identity, so a retried write (a takeover, a second poll of a finished run) adds nothing."""
    await execute(session, _RECORD.for_(session), usage_values(record))


def _group_of(by: UsageBy, dialect: str) -> list[ColumnElement[Any]]:
    """The columns a group is named by (joined with "/": `T123/U456`)."""
    if by is UsageBy.USER:
        return [_usage.c.team_id, _usage.c.user_id]
    if by is UsageBy.CHANNEL:
        return [_usage.c.team_id, _usage.c.channel_id]
    if by is UsageBy.DAY:
        # The UTC day: both store UTC (SQLite as text, PostgreSQL as timestamptz).
        if dialect == "postgresql":
            day = func.to_char(func.timezone("UTC", _usage.c.recorded_at), "YYYY-MM-DD")
            return [day.label("day")]
        return [func.substr(_usage.c.recorded_at, 1, 10).label("day")]
    return [_usage.c.assistant]


async def usage_totals(
    *, session: AsyncSession, by: UsageBy, since: datetime | None = None
) -> list[UsageTotal]:
    """The usage recorded (since `since`), summed per group, in the group's order."""
    group = _group_of(by, dialect_of(session))
    counted = ("input_tokens", "cached_tokens", "output_tokens", "reasoning_tokens", "tool_calls")
    sums = [func.sum(_usage.c[name]) for name in counted]
    query = select(*group, func.count(), *sums).group_by(*group).order_by(*group)
    if since is not None:
        query = query.where(_usage.c.recorded_at >= since)
    rows = (await execute(session, query)).all()
    width = len(group)
    return [
        UsageTotal("/".join(map(str, row[:width])), *(int(value or 0) for value in row[width:]))
        for row in rows
    ]
