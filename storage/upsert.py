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


_INSERTS: dict[str, Callable[[Table], Any]] = {
    "sqlite": sqlite.insert,
    "postgresql": postgresql.insert,
}


def dialect_of(session: AsyncSession) -> str:
    """The session's database: `sqlite` or `postgresql`."""
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def insert_ignore(session: AsyncSession, model: type[Any]) -> Any:
    """An insert into `model`'s table in the session's dialect, which has `on_conflict_…`."""
    return _INSERTS[dialect_of(session)](table_of(model))


class PerDialect:
    """A statement built once for each dialect (an insert's `on_conflict_…` is dialect-specific);
    `for_(session)` picks the session's."""

    def __init__(self, build: Callable[[Callable[[Table], Any]], Executable]) -> None:
        self._built = {name: build(insert) for name, insert in _INSERTS.items()}

    def for_(self, session: AsyncSession) -> Executable:
        return self._built[dialect_of(session)]
