"""Run an aiohttp application on 127.0.0.1:<free port> in a background thread."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from aiohttp import web

T = TypeVar("T")

_START_TIMEOUT = 10.0


class ServerThread:
    """One aiohttp app served from its own event loop in a daemon thread."""

    def __init__(self, app: web.Application, *, name: str = "fake-server") -> None:
        self._app = app
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self.port = 0
        self.url = ""

    def start(self) -> None:
        """Start serving; returns once the socket is listening and `url` is set."""
        if self._thread is not None:
            raise RuntimeError(f"{self._name} already started")
        self._thread = threading.Thread(target=self._serve, name=self._name, daemon=True)
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT):
            raise RuntimeError(f"{self._name} did not start within {_START_TIMEOUT}s")
        if self._startup_error is not None:
            raise RuntimeError(f"{self._name} failed to start") from self._startup_error

    def stop(self) -> None:
        """Close the listening socket and open connections, then end the thread."""
        loop, runner, thread = self._loop, self._runner, self._thread
        if loop is None or thread is None:
            return
        if runner is not None and loop.is_running():
            future = asyncio.run_coroutine_threadsafe(runner.cleanup(), loop)
            future.result(timeout=_START_TIMEOUT)
        if loop.is_running():
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=_START_TIMEOUT)
        self._thread = None

    def call(self, coro: Coroutine[Any, Any, T], *, timeout: float = _START_TIMEOUT) -> T:
        """Run `coro` on the server's loop from another thread; return its result."""
        loop = self._loop
        if loop is None or not loop.is_running():
            coro.close()
            raise RuntimeError(f"{self._name} is not running")
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=timeout)

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._listen())
        except BaseException as exc:  # reported to start() in the caller's thread
            self._startup_error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            # Handlers still holding an answer (the hold_answer_next faults) end here,
            # cancelled, instead of being destroyed pending when the loop closes.
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _listen(self) -> None:
        # A short shutdown timeout: the SDKs keep idle keep-alive connections open.
        runner = web.AppRunner(self._app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self.port = int(port)
        self.url = f"http://{host}:{self.port}"


def wait_until(predicate: Callable[[], T], *, timeout: float, describe: Callable[[], str]) -> T:
    """Poll `predicate` until it returns a truthy value, or fail with `describe()`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {timeout}s\n{describe()}")
        time.sleep(0.02)
