"""`assistant-bridge serve`: migrate, then serve Slack over HTTP or Socket Mode until SIGTERM."""

from __future__ import annotations

import asyncio
import errno
import gc
import logging
import os
import signal

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from bot.app import Bridge
from bot.assistants import Assistants
from bot.backends.agent_start import agents_at_start
from bot.config import Settings
from bot.errors import BridgeError, ConfigError, DatabaseUnavailable
from bot.server.http import build_web_app
from bot.slack.client import check_app_token
from storage.db import SQLiteInUse, hold_sqlite_lock, safe_url
from storage.migrate import SQLAlchemyError, migrate

log = logging.getLogger(__name__)

# Heroku sends SIGKILL 30 s after SIGTERM; leave room to hand over claims.
SHUTDOWN_GRACE = 15.0


class PortUnavailable(BridgeError):
    """The HTTP port cannot be listened on (taken by another process, or refused)."""

    def __init__(self, port: int, exc: OSError) -> None:
        if exc.errno == errno.EADDRINUSE:
            super().__init__(f"port {port} is already in use")
        else:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            super().__init__(f"cannot listen on port {port}: {reason}")


def apply_migrations(settings: Settings) -> None:
    try:
        migrate(settings.database_url)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise DatabaseUnavailable(
            f"cannot use the database at {safe_url(settings.database_url)}: {reason}"
        ) from None


def claim_database(settings: Settings) -> None:
    """SQLite takes one `serve` at a time: refuse to start beside another (short commands
    such as `migrate` and `doctor` are not refused)."""
    try:
        hold_sqlite_lock(settings.database_url)
    except SQLiteInUse:
        raise DatabaseUnavailable(
            f"another assistant-bridge serve is using {safe_url(settings.database_url)};"
            " SQLite takes one process (stop that one, or use PostgreSQL for several)"
        ) from None


async def serve(settings: Settings, assistants: Assistants, *, socket_mode: bool) -> None:
    claim_database(settings)
    await asyncio.to_thread(apply_migrations, settings)
    # The saved agents of `kind = "agent"` assistants, created or updated (under the
    # migrations' lock: dynos starting together create one agent) before anything runs.
    assistants = await agents_at_start(settings, assistants)
    bridge = Bridge(settings, assistants)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    # lingering_time=0: a request whose body stopped arriving is closed at once after its
    # 408, not read for another 10 s (see bot/web.py).
    runner = web.AppRunner(
        build_web_app(bridge, slack_routes=not socket_mode), access_log=None, lingering_time=0
    )
    await runner.setup()
    site = web.TCPSite(runner, "0.0.0.0", settings.port)
    try:
        await site.start()
    except OSError as exc:
        if not socket_mode:
            await runner.cleanup()
            await bridge.stop(grace=0)
            raise PortUnavailable(settings.port, exc) from None
        log.warning("health endpoint not served: port %s: %s", settings.port, exc.strerror)
    if socket_mode:
        try:
            await check_app_token(bridge.slack_client, settings.slack_app_token)
        except ConfigError:
            await runner.cleanup()
            await bridge.stop(grace=0)
            raise
    await bridge.start()
    _freeze_start_up_objects()
    socket_handler = None
    connecting: asyncio.Task[None] | None = None
    if socket_mode:
        socket_handler = AsyncSocketModeHandler(bridge.bolt, settings.slack_app_token)
        # slack_sdk retries a refused connection forever: connect beside the stop signal.
        connecting = asyncio.create_task(_connect(socket_handler))
    else:
        log.info("listening for Slack on http://0.0.0.0:%s/slack/events", settings.port)
    await stop.wait()
    log.info("stopping: finishing running steps, handing over the rest")
    if connecting is not None:
        connecting.cancel()
    if socket_handler is not None:
        await socket_handler.close_async()  # type: ignore[no-untyped-call]
    await site.stop()
    await bridge.stop(grace=SHUTDOWN_GRACE)
    await runner.cleanup()
    log.info("stopped")


def _freeze_start_up_objects() -> None:
    """Keep what start-up built (modules, SQLAlchemy's and pydantic's machinery, Bolt's app)
    out of the cyclic collector's full passes.

    Each full pass walks every tracked object: with start-up's objects in the heap, one took
    30-60 ms at 100 events/s (3-4 ms frozen), and the event loop, acks included, waits for
    it. Frozen objects are never collected, which is what start-up's are for anyway.
    """
    gc.collect()
    gc.freeze()


async def _connect(handler: AsyncSocketModeHandler) -> None:
    await handler.connect_async()  # type: ignore[no-untyped-call]
    log.info("connected to Slack in Socket Mode")
