"""Socket Mode for the fake Slack: the URLs apps.connections.open issues, the websocket
endpoint behind them, the envelopes sent down it and the acks that come back.

Like Slack, each envelope goes to one open connection (round-robin when there are several).
"""

from __future__ import annotations

import itertools
import json
import secrets
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes import slack_socket_messages as messages
from tests.fakes.slack_store import APP_ID, JsonDict, SlackStore

ROUTE = "/socket-mode/{conn_id}"


@dataclass(frozen=True)
class SocketMessage:
    """One text frame a client sent: which connection, the text, and its JSON if it parsed."""

    conn_id: str
    raw: str
    body: Any


class SocketHub:
    """Connections and traffic; public methods run on the fake's event loop, reads take
    the store's lock and may come from any thread."""

    def __init__(self, store: SlackStore) -> None:
        self._store = store
        self._tickets: dict[str, str] = {}  # conn_id -> ticket, for every URL issued
        self._open: dict[str, web.WebSocketResponse] = {}
        self._received: list[SocketMessage] = []
        self._sent: list[tuple[str, JsonDict]] = []
        self._pings = 0
        self._opened = 0
        self._turn = itertools.count()

    # apps.connections.open (called under the store's lock) -------------------------------
    def issue_url(self) -> JsonDict:
        conn_id = secrets.token_hex(8)
        ticket = secrets.token_hex(16)
        self._tickets[conn_id] = ticket
        base = self._store.base_url.replace("http://", "ws://", 1)
        return {"url": f"{base}/socket-mode/{conn_id}?ticket={ticket}&app_id={APP_ID}"}

    # reads (any thread) -------------------------------------------------------------------
    def connected(self) -> int:
        with self._store.lock:
            return len(self._open)

    def opened(self) -> int:
        with self._store.lock:
            return self._opened

    def received(self) -> list[SocketMessage]:
        with self._store.lock:
            return list(self._received)

    def sent(self) -> list[tuple[str, JsonDict]]:
        with self._store.lock:
            return list(self._sent)

    def pings(self) -> int:
        with self._store.lock:
            return self._pings

    # the websocket (fake's loop) ------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        conn_id = request.match_info["conn_id"]
        with self._store.lock:
            ticket = self._tickets.get(conn_id)
        if ticket is None or request.query.get("ticket") != ticket:
            return web.Response(status=401, text="invalid_ticket")
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        with self._store.lock:
            self._open[conn_id] = ws
            self._opened += 1
            count = len(self._open)
        try:
            await ws.send_json(messages.hello(count))
            async for frame in ws:
                await self._receive(conn_id, ws, frame.type, frame.data)
        finally:
            with self._store.lock:
                self._open.pop(conn_id, None)
        return ws

    async def _receive(
        self, conn_id: str, ws: web.WebSocketResponse, kind: WSMsgType, data: Any
    ) -> None:
        if kind == WSMsgType.PING:
            with self._store.lock:
                self._pings += 1
            await ws.pong(data)
        elif kind == WSMsgType.TEXT:
            try:
                body: Any = json.loads(data)
            except ValueError:
                body = None
            with self._store.lock:
                self._received.append(SocketMessage(conn_id, str(data), body))

    async def send(self, message: JsonDict) -> str:
        """Send `message` to one open connection; returns that connection's id."""
        with self._store.lock:
            open_now = sorted(self._open.items())
        if not open_now:
            raise RuntimeError("no Socket Mode client is connected to the fake Slack")
        conn_id, ws = open_now[next(self._turn) % len(open_now)]
        await ws.send_json(message)
        with self._store.lock:
            self._sent.append((conn_id, message))
        return conn_id

    async def broadcast(self, message: JsonDict) -> int:
        """Send `message` to every open connection; returns how many got it."""
        with self._store.lock:
            open_now = list(self._open.items())
        for conn_id, ws in open_now:
            await ws.send_json(message)
            with self._store.lock:
                self._sent.append((conn_id, message))
        return len(open_now)

    async def close_all(self, _app: web.Application | None = None) -> None:
        """Close every connection (the server's on_shutdown hook)."""
        with self._store.lock:
            open_now = list(self._open.values())
        for ws in open_now:
            await ws.close(code=1001, message=b"server shutdown")


def ack_of(message: SocketMessage) -> JsonDict | None:
    """The ack {"envelope_id": …, "payload"?: …} a client message is, or None."""
    body = message.body
    if isinstance(body, dict) and isinstance(body.get("envelope_id"), str):
        return body
    return None


__all__ = ["ROUTE", "SocketHub", "SocketMessage", "ack_of", "messages"]
