"""`INSERT … ON CONFLICT DO NOTHING` for SQLite and PostgreSQL alike."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel.ext.asyncio.session import AsyncSession


def insert_ignore(session: AsyncSession, table: Table) -> Any:
    """An insert for `table` in the session's dialect, which has `on_conflict_do_nothing`."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
