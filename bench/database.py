"""The bridge's database for one run: a SQLite file, or a fresh PostgreSQL schema dropped after."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from storage.db import normalize_url, safe_url
from tests.scratch_schema import scratch_schema


@contextmanager
def run_database(url: str | None, workdir: Path) -> Iterator[tuple[str, str]]:
    """Yield (url for the bridge, description); SQLite in `workdir` when `url` is None."""
    if not url:
        yield f"sqlite:///{workdir / 'bridge.db'}", "SQLite (file in a temp dir)"
        return
    if make_url(normalize_url(url)).get_backend_name() != "postgresql":
        yield url, safe_url(url)
        return
    with scratch_schema(url, prefix="bench") as (scoped, schema):
        yield scoped, f"{safe_url(url)} schema {schema}"
