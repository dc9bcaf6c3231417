"""The bridge's database for one run: a SQLite file, or a fresh PostgreSQL schema dropped after."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from storage.db import normalize_url, safe_url


@contextmanager
def run_database(url: str | None, workdir: Path) -> Iterator[tuple[str, str]]:
    """Yield (url for the bridge, description); SQLite in `workdir` when `url` is None."""
    if not url:
        yield f"sqlite:///{workdir / 'bridge.db'}", "SQLite (file in a temp dir)"
        return
    if make_url(normalize_url(url)).get_backend_name() != "postgresql":
        yield url, safe_url(url)
        return
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalize_url(url, sync=True))
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        scoped = make_url(normalize_url(url, sync=True)).update_query_dict(
            {"options": f"-csearch_path={schema}"}
        )
        yield scoped.render_as_string(hide_password=False), f"{safe_url(url)} schema {schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
