"""The migrations build exactly the schema the models describe, on each database."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables)
from storage.migrate import migrate


def test_migrating_a_fresh_database_gives_the_models_schema(database_url: str, db: Engine) -> None:
    migrate(database_url)
    with db.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert differences == []


def test_migrating_twice_changes_nothing(database_url: str, db: Engine) -> None:
    migrate(database_url)
    before = {t: inspect(db).get_columns(t) for t in inspect(db).get_table_names()}
    migrate(database_url)
    after = {t: inspect(db).get_columns(t) for t in inspect(db).get_table_names()}
    assert [str(c) for c in before.items()] == [str(c) for c in after.items()]
    assert "tool_state" in {c["name"] for c in after["turn"]}
