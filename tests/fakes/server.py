"""What the fake servers share: serving on a thread, scripted faults, reading their state."""

from __future__ import annotations

import asyncio
import copy
import threading
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Generic, Protocol, Self, TypeVar

from aiohttp import web

from tests.fakes.faults import Fault, FaultBook
from tests.fakes.runner import ServerThread, wait_until

T = TypeVar("T")


class FakeStore(Protocol):
    """What a fake remembers, at the least: a lock to read it under, and its own bugs."""

    @property
    def lock(self) -> threading.RLock: ...

    @property
    def errors(self) -> list[str]: ...


S = TypeVar("S", bound=FakeStore)


class FakeServer(ABC, Generic[S]):
    """An aiohttp app on 127.0.0.1:<free port> over a store. Use `with Fake() as fake:`."""

    def __init__(self, store: S, app: web.Application, *, name: str) -> None:
        self._store = store
        self._faults = FaultBook()
        self._server = ServerThread(app, name=name)

    # lifecycle -------------------------------------------------------------------------
    def start(self) -> Self:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return self._server.url

    # faults ----------------------------------------------------------------------------
    def clear_faults(self) -> None:
        self._faults.clear()

    async def _answer_with(
        self,
        fault: Fault | None,
        request: web.Request,
        answer: Callable[[], Awaitable[web.StreamResponse]],
        refuse: Callable[[Fault], web.StreamResponse],
    ) -> web.StreamResponse:
        """Answer as usual without a fault; with one, carry the request out and then drop or
        hold the answer (`after`), drop the connection unanswered, or `refuse` it."""
        if fault is None:
            return await answer()
        if fault.after:
            answered = await answer()
            if not fault.drop:
                await asyncio.sleep(fault.delay)
                return answered
        if fault.drop:
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=204)
        return refuse(fault)

    # inspection (copies, safe from any thread) ------------------------------------------
    def server_errors(self) -> list[str]:
        """Unexpected exceptions inside the fake (should stay empty)."""
        return self._read(lambda s: s.errors)

    def wait_for(self, predicate: Callable[[], T], timeout: float = 10.0) -> T:
        return wait_until(predicate, timeout=timeout, describe=self._dump)

    def _read(self, read: Callable[[S], T]) -> T:
        with self._store.lock:
            self._catch_up()
            return copy.deepcopy(read(self._store))

    def _catch_up(self) -> None:
        """Bring state that follows the clock up to now (called under the store's lock)."""

    @abstractmethod
    def _dump(self) -> str:
        """The fake's recent traffic, for a `wait_for` that timed out."""
