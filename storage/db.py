"""Engine and session setup: SQLite (embedded default) or PostgreSQL, both async."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import IO, Any, Protocol, TypeVar, cast

from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy import event
from sqlalchemy.engine import Connection, Dialect, RootTransaction, make_url
from sqlalchemy.exc import DBAPIError, InvalidatePoolError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.sql import Executable
from sqlmodel import Session
from sqlmodel.ext.asyncio.session import AsyncSession

if sys.platform != "win32":  # no flock on Windows: the single-process check is skipped there
    import fcntl


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


log = logging.getLogger(__name__)
T = TypeVar("T")

# Where a pooled PostgreSQL connection's record keeps when it was last returned.
_IDLE_SINCE = "bridge_idle_since"
# A pooled PostgreSQL connection is pinged before use only after sitting idle this long.
PING_AFTER_IDLE_SECONDS = 5.0
# How long SQLite work in the event loop waits for another connection's write lock: the
# ack path (`ingest`) must answer Slack within its 3 s; background work waits as long as
# the old busy_timeout did. The waiting is asynchronous (see `Database._begin_in_loop`).
SESSION_PATIENCE_SECONDS = 10.0
INGEST_PATIENCE_SECONDS = 2.0
# The pauses between tries for SQLite's write lock: short first (most locks are held for
# milliseconds), doubling up to the longest.
_FIRST_PAUSE_SECONDS = 0.002
_LONGEST_PAUSE_SECONDS = 0.1


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, *, busy_ms: int = 10000) -> None:
    # Transactions are begun by `_sqlite_begin`, not by the driver.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets readers (doctor, tests, a second process) work beside the writer;
    # busy_timeout waits for a lock instead of failing at once (the thread waits).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_pragmas_in_loop(dbapi_connection: Any, record: Any) -> None:
    # In the event loop's thread a busy_timeout would freeze the loop (acks included)
    # while another process holds the write lock: fail at once, and wait asynchronously.
    _sqlite_pragmas(dbapi_connection, record, busy_ms=0)


def is_busy(exc: BaseException) -> bool:
    """Whether `exc` is SQLite's SQLITE_BUSY: another connection holds the lock."""
    orig = getattr(exc, "orig", exc)
    code = getattr(orig, "sqlite_errorcode", None)
    return isinstance(orig, sqlite3.OperationalError) and code is not None and code & 0xFF == 5


class SQLiteInUse(Exception):
    """Another process holds the single-process lock of this SQLite database."""


# The single-process locks this process holds, open for its whole life.
_held_locks: list[IO[str]] = []


def hold_sqlite_lock(url: str) -> None:
    """Lock the file beside a SQLite database (`bridge.db.lock`) for the rest of this
    process's life; nothing for PostgreSQL and in-memory databases.

    SQLite is the single-process setup: a starting process releases every lease, so a
    second one would take over the first one's work. An flock, not SQLite's own locks:
    it lasts as long as the process, and the kernel drops it when the process dies (a
    killed bridge leaves nothing to clean up). Raises SQLiteInUse if another process
    holds it.
    """
    if not is_sqlite(url) or sys.platform == "win32":
        return
    database = make_url(normalize_url(url, sync=True)).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database + ".lock")
    handle = path.open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise SQLiteInUse(f"{path} is held by another process") from None
    _held_locks.append(handle)


def _sqlite_begin(connection: Any) -> None:
    # Take the write lock when the transaction starts: a transaction that read and then
    # writes after another connection wrote would otherwise fail at once (SQLITE_BUSY),
    # where BEGIN IMMEDIATE waits its turn (busy_timeout).
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(
    url: str, *, pool_size: int, ping_after_idle: float = PING_AFTER_IDLE_SECONDS
) -> AsyncEngine:
    """An async engine for `url`. A SQLite engine holds one connection: SQLite has one
    writer at a time anyway, and queueing in the pool is cheaper than lock retries.
    A PostgreSQL connection is pinged before use after sitting idle `ping_after_idle`
    seconds (see `_ping_when_idle`)."""
    real = normalize_url(url)
    if is_sqlite(url):
        engine = create_async_engine(real, pool_size=1, max_overflow=0, pool_timeout=60)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    engine = create_async_engine(real, pool_size=pool_size, max_overflow=pool_size, pool_timeout=60)
    _ping_when_idle(engine, ping_after_idle)
    return engine


def _ping_when_idle(engine: AsyncEngine, idle_seconds: float) -> None:
    """Ping a pooled connection before use only when it sat idle for `idle_seconds`.

    `pool_pre_ping` pings on every checkout: a round trip that cost about 0.15 ms of CPU,
    five times per turn (`python bench/storage_calls.py`). A connection in steady use has
    just shown it is alive; one that sat idle is the one a database restart or a dropped
    network path leaves dead. A connection that fails anyway makes its statement fail
    once, and SQLAlchemy then invalidates every older connection of the pool, as a failed
    ping would; background work is retried (leases, the sweep), so nothing is lost.
    """
    pool = engine.sync_engine.pool
    dialect = engine.sync_engine.dialect

    def checked_in(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[_IDLE_SINCE] = time.monotonic()

    def checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop(_IDLE_SINCE, None)
        if since is None or time.monotonic() - since < idle_seconds:
            return
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise InvalidatePoolError("ping of an idle connection failed") from exc
        if not alive:
            raise InvalidatePoolError("ping of an idle connection failed")

    event.listen(pool, "checkin", checked_in)
    event.listen(pool, "checkout", checked_out)


class _Connection(Protocol):
    """What a `ConnectionSession` runs Core statements on: an AsyncConnection, or
    `_InLoopConnection` over SQLite's synchronous one."""

    @property
    def dialect(self) -> Dialect: ...

    async def execute(self, statement: Executable, parameters: Any = None) -> Any: ...


class _InLoopConnection:
    """AsyncConnection's `execute` over a synchronous Connection: runs the statement and
    returns, never suspending (SQLite in the event loop's thread; see `ConnectionSession`)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self.dialect = connection.dialect

    async def execute(self, statement: Executable, parameters: Any = None) -> Any:
        return self._connection.execute(statement, parameters)


class _InLoopORM:
    """The AsyncSession methods the queries use, over a synchronous ORM Session: each call
    runs and returns, never suspending."""

    def __init__(self, connection: Connection) -> None:
        # Joins the connection's transaction; `Database.session` commits or rolls it back.
        self._session = Session(bind=connection, expire_on_commit=False)

    async def exec(self, statement: Any, **kw: Any) -> Any:
        return self._session.exec(statement, **kw)

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

    async def close(self) -> None:
        self._session.close()


class ConnectionSession:
    """AsyncSession's interface (what the queries use of it) over one connection in a
    transaction, or in autocommit; `async with` it flushes the ORM's writes on success and
    closes the ORM.

    Core statements (`storage.db.execute`) go straight to the connection. The ORM session
    is made only when a query asks for one (`exec`, `get`, `add`, …): its set-up, its
    transaction bookkeeping and its commit cost more CPU than the Core statements most
    transactions consist of (`python bench/storage_calls.py`). On PostgreSQL the connection
    is an AsyncConnection and the ORM an AsyncSession joining its transaction (or, in
    autocommit, running each statement on its own); on SQLite they are `_InLoopConnection`
    and `_InLoopORM`, synchronous underneath, so a transaction never suspends and no other
    coroutine sees it half done (see `Database._in_loop`).
    """

    def __init__(
        self, connection: _Connection, orm: Callable[[], AsyncSession | _InLoopORM]
    ) -> None:
        self._connection = connection
        self._make_orm = orm
        self._orm: AsyncSession | _InLoopORM | None = None

    @property
    def _session(self) -> AsyncSession | _InLoopORM:
        if self._orm is None:
            self._orm = self._make_orm()
        return self._orm

    @property
    def bind(self) -> _Connection:
        return self._connection

    async def connection(self) -> _Connection:
        return self._connection

    async def exec(self, statement: Any, **kw: Any) -> Any:
        return await self._session.exec(statement, **kw)

    async def get(self, entity: Any, ident: Any, **kw: Any) -> Any:
        return await self._session.get(entity, ident, **kw)

    def add(self, instance: Any) -> None:
        self._session.add(instance)

    def add_all(self, instances: Any) -> None:
        self._session.add_all(instances)

    async def flush(self) -> None:
        await self._session.flush()

    async def refresh(self, instance: Any) -> None:
        await self._session.refresh(instance)

    async def __aenter__(self) -> AsyncSession:
        # What the queries are typed against: the part of it they use is above.
        return cast(AsyncSession, self)

    async def __aexit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if self._orm is None:
            return
        try:
            if exc_type is None:
                await self._orm.flush()  # what it still holds, before the commit
        finally:
            await self._orm.close()


async def execute(session: AsyncSession, statement: Executable, parameters: Any = None) -> Any:
    """Run a Core statement in the session's transaction, bypassing the ORM.

    For the statements every turn runs: built once with bind parameters (module constants
    in `storage.turns`, `storage.inbox`, `storage.outbox`, `storage.finish`), they skip
    statement building, cache-key generation and the ORM's bulk-update bookkeeping, which
    together cost more CPU than SQLite itself.
    `parameters` is a dict, or a list of dicts for several rows.
    """
    connection = await session.connection()
    return await connection.execute(statement, parameters)


@asynccontextmanager
async def _pooled(engine: AsyncEngine, *, single: bool) -> AsyncIterator[AsyncSession]:
    """A `ConnectionSession` on a connection from `engine`'s pool: in a transaction that
    commits on success and rolls back on error, or (`single`, an autocommit engine) not."""
    async with (
        engine.connect() if single else engine.begin() as connection,
        ConnectionSession(
            connection, lambda: AsyncSession(bind=connection, expire_on_commit=False)
        ) as session,
    ):
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
        # The same pools with each statement committing on its own (see `session`).
        self._single = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._single_ingest = self.ingest_engine.execution_options(isolation_level="AUTOCOMMIT")

        if self.is_sqlite:
            self._local = sa_create_engine(
                normalize_url(url, sync=True), pool_size=1, max_overflow=0, pool_timeout=1
            )
            event.listen(self._local, "connect", _sqlite_pragmas_in_loop)
            event.listen(self._local, "begin", _sqlite_begin)

    def session(
        self, *, single: bool = False, patience: float = SESSION_PATIENCE_SECONDS
    ) -> AbstractAsyncContextManager[AsyncSession]:
        """A session inside a transaction, committed on success, rolled back on error.

        `single=True`: for work that is one statement, or statements each safe on its own
        (idempotent writes). On PostgreSQL each statement then commits by itself, which
        saves the BEGIN and COMMIT round trips (a third of a turn's round trips); on SQLite,
        whose BEGIN and COMMIT are local calls, it is an ordinary transaction.
        `patience`: on SQLite, how long to wait for another connection's write lock
        before the busy error is raised.
        """
        if self.is_sqlite:
            return self._in_loop(patience)
        return _pooled(self._single if single else self.engine, single=single)

    def ingest(self, *, single: bool = False) -> AbstractAsyncContextManager[AsyncSession]:
        """Like `session`, from the pool reserved for storing Slack's requests; on SQLite it
        waits for a held write lock only as long as the ack to Slack can wait."""
        if self.is_sqlite:
            return self._in_loop(INGEST_PATIENCE_SECONDS)
        return _pooled(self._single_ingest if single else self.ingest_engine, single=single)

    @asynccontextmanager
    async def _in_loop(self, patience: float) -> AsyncIterator[AsyncSession]:
        """A `ConnectionSession` on SQLite's in-loop connection, in its transaction.

        SQLite is a file in this process: a statement takes tens of microseconds, while the
        async path (greenlet + aiosqlite's thread hand-off) costs about 1 ms of CPU per
        transaction and 0.4 ms per statement. So the transaction runs in the event loop's
        thread and, once begun, never suspends: no other coroutine sees it half done.
        """
        connection, transaction = await self._begin_in_loop(patience)
        with connection, transaction:
            async with ConnectionSession(
                _InLoopConnection(connection), lambda: _InLoopORM(connection)
            ) as session:
                yield session

    async def _begin_in_loop(self, patience: float) -> tuple[Connection, RootTransaction]:
        """The in-loop connection with its transaction begun (`BEGIN IMMEDIATE`).

        The connection's busy_timeout is 0, so a write lock held elsewhere (a `migrate`,
        a `sqlite3` shell, a test) fails the BEGIN at once instead of freezing the event
        loop; the connection then goes back to the pool (it is the only one: never await
        while holding it) and the loop waits, pausing longer each time, until the lock is
        free or `patience` has passed. Without contention this is one try, as before.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + patience
        pause = _FIRST_PAUSE_SECONDS
        while True:
            connection: Connection | None = None
            try:
                # A new connection's first statements (its pragmas) can find the lock too.
                connection = self._local.connect()
                return connection, connection.begin()
            except OperationalError as exc:
                if connection is not None:
                    connection.close()
                if not is_busy(exc) or loop.time() + pause > deadline:
                    raise
            except BaseException:
                if connection is not None:
                    connection.close()
                raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, _LONGEST_PAUSE_SECONDS)

    async def store(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run `work` (idempotent statements, each safe alone) in an autocommit `ingest`
        session; once more on a fresh connection if the first turned out dead.

        This is the ack path: a failure here answers Slack 500, and Slack retries a
        minute later. Its connections are pinged only after sitting idle, so one that a
        database restart broke mid-burst can fail here; the pool then replaces every
        connection as old as it, and the work runs once more.
        """
        try:
            async with self.ingest(single=True) as session:
                return await work(session)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            log.warning("the database connection was lost; storing again on a new one")
        async with self.ingest(single=True) as session:
            return await work(session)

    async def close(self) -> None:
        await self.engine.dispose()
        await self.ingest_engine.dispose()
        if self.is_sqlite:
            self._local.dispose()
