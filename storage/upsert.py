"""`INSERT … ON CONFLICT DO NOTHING` for SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Executable
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


class PerDialect:
    """A statement built once for each dialect (an insert's `on_conflict_…` is dialect-specific);
    `for_(session)` picks the session's."""

    def __init__(self, build: Callable[[Callable[[Table], Any]], Executable]) -> None:
        self._built = {"sqlite": build(sqlite.insert), "postgresql": build(postgresql.insert)}

    def for_(self, session: AsyncSession) -> Executable:
        dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
        return self._built[dialect]
