"""Shared fixtures: a fresh database per test (SQLite, and PostgreSQL when configured) and fakes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from storage.db import normalize_url
from tests.scratch_schema import scratch_schema

# The suite runs on SQLite, or on PostgreSQL when TEST_DATABASE_URL is set (CI runs both).
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
ON_POSTGRES = bool(TEST_DATABASE_URL)


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A database of its own for one test: a SQLite file, or a fresh PostgreSQL schema."""
    if not ON_POSTGRES:
        yield f"sqlite:///{tmp_path / 'bridge.db'}"
        return
    with scratch_schema(TEST_DATABASE_URL) as (url, _schema):
        yield url


@pytest.fixture
def db(database_url: str) -> Iterator[Engine]:
    """A synchronous engine on the test's database, for asserting on rows."""
    engine = create_engine(normalize_url(database_url, sync=True))
    yield engine
    engine.dispose()
