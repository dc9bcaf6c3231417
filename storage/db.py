"""Engine and session setup: SQLite (embedded default) or PostgreSQL, both async."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.sql import Executable
from sqlmodel import Session
from sqlmodel.ext.asyncio.session import AsyncSession


def normalize_url(url: str, *, sync: bool = False) -> str:
    """Map what users write (Heroku's `postgres://`, plain `sqlite:///`) to our drivers."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend == "sqlite":
        parsed = parsed.set(drivername="sqlite" if sync else "sqlite+aiosqlite")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(normalize_url(url)).get_backend_name() == "sqlite"


def safe_url(url: str) -> str:
    """The URL for logs and messages: never the password."""
    return make_url(normalize_url(url)).render_as_string(hide_password=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Transactions are begun by `_sqlite_begin`, not by the driver.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets readers (doctor, tests, a second process) work beside the writer;
    # busy_timeout waits for a lock instead of failing at once.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # Take the write lock when the transaction starts: a transaction that read and then
    # writes after another connection wrote would otherwise fail at once (SQLITE_BUSY),
    # where BEGIN IMMEDIATE waits its turn (busy_timeout).
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(url: str, *, pool_size: int) -> AsyncEngine:
    """An async engine for `url`. A SQLite engine holds one connection: SQLite has one
    writer at a time anyway, and queueing in the pool is cheaper than lock retries."""
    real = normalize_url(url)
    if is_sqlite(url):
        engine = create_async_engine(real, pool_size=1, max_overflow=0, pool_timeout=60)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    return create_async_engine(
        real, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, pool_timeout=60
    )


class _InLoopConnection:
    """AsyncConnection's `execute` over a synchronous Connection (see `InLoopSession`)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    async def execute(self, statement: Executable, parameters: Any = None) -> Any:
        return self._connection.execute(statement, parameters)


class InLoopSession:
    """AsyncSession's interface over a synchronous Connection, for SQLite only.

    SQLite is a file in this process: a statement takes tens of microseconds, while the
    async path (greenlet + aiosqlite's thread hand-off) costs about 1 ms of CPU per
    transaction and 0.4 ms per statement. Run in the event loop's thread, a transaction
    never yields to the loop, so no other coroutine can see it half done.

    Most transactions run only Core statements (`execute`); the ORM Session, which costs
    more to set up and commit than they do to run, is made only when one is asked for.
    """

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._orm: Session | None = None

    @property
    def _session(self) -> Session:
        if self._orm is None:
            # Joins the connection's transaction; `Database.session` commits or rolls it back.
            self._orm = Session(bind=self._connection, expire_on_commit=False)
        return self._orm

    @property
    def bind(self) -> Connection:
        return self._connection

    async def exec(self, statement: Any, **kw: Any) -> Any:
        return self._session.exec(statement, **kw)

    async def connection(self) -> _InLoopConnection:
        return _InLoopConnection(self._connection)

    async def get(self, entity: Any, ident: Any, **kw: Any) -> Any:
        return self._session.get(entity, ident, **kw)

    def add(self, instance: Any) -> None:
        self._session.add(instance)

    def add_all(self, instances: Any) -> None:
        self._session.add_all(instances)

    async def flush(self) -> None:
        self._session.flush()

    async def refresh(self, instance: Any) -> None:
        self._session.refresh(instance)

    def done(self) -> None:
        """Write what the ORM Session still holds, before the transaction commits."""
        if self._orm is not None:
            self._orm.flush()

    def close(self) -> None:
        if self._orm is not None:
            self._orm.close()


async def execute(session: AsyncSession, statement: Executable, parameters: Any = None) -> Any:
    """Run a Core statement in the session's transaction, bypassing the ORM.

    For the statements every turn runs: built once with bind parameters (module constants
    in `storage.turns`, `storage.queue`, `storage.replies`), they skip statement building,
    cache-key generation and the ORM's bulk-update bookkeeping, which together cost more
    CPU than SQLite itself.
    `parameters` is a dict, or a list of dicts for several rows.
    """
    connection = await session.connection()
    return await connection.execute(statement, parameters)


def _sessionmaker(
    engine: AsyncEngine, *, autocommit: bool = False
) -> async_sessionmaker[AsyncSession]:
    if autocommit:
        engine = engine.execution_options(isolation_level="AUTOCOMMIT")
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def _pg_session(
    sessions: async_sessionmaker[AsyncSession], *, single: bool
) -> AsyncIterator[AsyncSession]:
    """A session from `sessions`: in a transaction, or (`single`, an autocommit maker) not."""
    async with sessions() as session:
        if single:
            yield session
            return
        async with session.begin():
            yield session


class Database:
    """Engines plus session factories; `session()` and `ingest()` are how code gets a session.

    Two pools: `ingest` for storing what Slack sends (the ack waits on it) and `session`
    for everything else, so background work can never starve the acks of connections.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = is_sqlite(url)
        self.engine = create_engine(url, pool_size=10)
        self.ingest_engine = create_engine(url, pool_size=5)
        self._sessions = _sessionmaker(self.engine)
        self._ingest_sessions = _sessionmaker(self.ingest_engine)
        # The same pools with each statement committing on its own (see `session`).
        self._single_sessions = _sessionmaker(self.engine, autocommit=True)
        self._single_ingest_sessions = _sessionmaker(self.ingest_engine, autocommit=True)

        if self.is_sqlite:
            self._local = sa_create_engine(
                normalize_url(url, sync=True), pool_size=1, max_overflow=0, pool_timeout=1
            )
            event.listen(self._local, "connect", _sqlite_pragmas)
            event.listen(self._local, "begin", _sqlite_begin)

    @asynccontextmanager
    async def session(self, *, single: bool = False) -> AsyncIterator[AsyncSession]:
        """A session inside a transaction, committed on success, rolled back on error.

        `single=True`: for work that is one statement, or statements each safe on its own
        (idempotent writes). On PostgreSQL each statement then commits by itself, which
        saves the BEGIN and COMMIT round trips (a third of a turn's round trips); on SQLite,
        whose BEGIN and COMMIT are local calls, it is an ordinary transaction.
        """
        if not self.is_sqlite:
            sessions = self._single_sessions if single else self._sessions
            async with _pg_session(sessions, single=single) as session:
                yield session
            return
        with self._local.begin() as connection:
            local = InLoopSession(connection)
            try:
                yield cast(AsyncSession, local)
                local.done()
            finally:
                local.close()

    @asynccontextmanager
    async def ingest(self, *, single: bool = False) -> AsyncIterator[AsyncSession]:
        """Like `session`, from the pool reserved for storing Slack's requests."""
        if self.is_sqlite:
            async with self.session() as session:
                yield session
            return
        sessions = self._single_ingest_sessions if single else self._ingest_sessions
        async with _pg_session(sessions, single=single) as session:
            yield session

    async def close(self) -> None:
        await self.engine.dispose()
        await self.ingest_engine.dispose()
        if self.is_sqlite:
            self._local.dispose()
