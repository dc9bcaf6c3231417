"""`INSERT … ON CONFLICT DO NOTHING` for SQLite and PostgreSQL alike."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel.ext.asyncio.session import AsyncSession


def table_of(model: type[Any]) -> Table:
    """The Core table of a SQLModel table class."""
    return cast(Table, model.__table__)


def insert_ignore(session: AsyncSession, model: type[Any]) -> Any:
    """An insert into `model`'s table in the session's dialect, which has `on_conflict_…`."""
    table = table_of(model)
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
