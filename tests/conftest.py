"""Shared fixtures: a fresh database per test (SQLite, and PostgreSQL when configured) and fakes."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from storage.db import normalize_url

# The suite runs on SQLite, or on PostgreSQL when TEST_DATABASE_URL is set (CI runs both).
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
ON_POSTGRES = bool(TEST_DATABASE_URL)


def _postgres_schema_url(schema: str) -> str:
    url = make_url(normalize_url(TEST_DATABASE_URL, sync=True))
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A database of its own for one test: a SQLite file, or a fresh PostgreSQL schema."""
    if not ON_POSTGRES:
        yield f"sqlite:///{tmp_path / 'bridge.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalize_url(TEST_DATABASE_URL, sync=True))
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _postgres_schema_url(schema)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def db(database_url: str) -> Iterator[Engine]:
    """A synchronous engine on the test's database, for asserting on rows."""
    engine = create_engine(normalize_url(database_url, sync=True))
    yield engine
    engine.dispose()
