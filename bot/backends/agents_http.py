"""The Agents API reads every turn makes — the turn, its items, the session, its turns and
artifacts — as plain JSON, and the session's event stream, on the process's aiohttp session.

A poll is the most frequent call, and the SDK's typed models cost several times the CPU of
one `json.loads` (as for Responses: `bot/backends/responses_http.py`); sends (session create,
input events) stay on the SDK, which adds `Idempotency-Key` and is typed where it matters.
Without an aiohttp session the reads go through the SDK's untyped `get` (same JSON).
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import quote

import aiohttp
from openai import AsyncOpenAI

from bot.backends.base import call, classify_status
from bot.backends.responses_http import api_headers, decoded
from bot.backends.sse import EventSource
from bot.errors import BackendError

JsonDict = dict[str, Any]
log = logging.getLogger(__name__)
BETA = {"OpenAI-Beta": "agents=v1"}
# A list is read this many pages at most (100 items each): a turn's answer fits well within.
_MAX_PAGES = 20


def path(*parts: str) -> str:
    """`/agents/sessions/…` with each id quoted."""
    return "/agents/" + "/".join(quote(part, safe="") for part in parts)


class AgentsReads:
    """GETs of the Agents API as JSON objects; errors classified as the SDK's are."""

    def __init__(
        self, client: AsyncOpenAI, http: aiohttp.ClientSession | None, *, stream_idle: float
    ) -> None:
        self._client = client
        self._http = http
        self._base = str(client.base_url).rstrip("/")
        self._headers = {**api_headers(client), **BETA}
        self._timeout = aiohttp.ClientTimeout(total=30)
        self._stream_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=20, sock_read=stream_idle
        )

    @property
    def streams(self) -> bool:
        return self._http is not None

    async def get(self, where: str, query: dict[str, str] | None = None) -> JsonDict:
        if self._http is None:
            options: Any = {"headers": BETA, "params": query or {}}
            raw = await call(lambda: self._client.get(where, cast_to=object, options=options))
            return raw if isinstance(raw, dict) else {}
        try:
            async with self._http.get(
                self._base + where, params=query, headers=self._headers, timeout=self._timeout
            ) as got:
                raw_bytes = await got.read()
                status = got.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise BackendError(type(exc).__name__, transient=True, code="connection") from exc
        return decoded(status, raw_bytes)

    async def page(self, where: str, query: dict[str, str]) -> list[JsonDict]:
        """One page of a list's `data`."""
        data = (await self.get(where, query)).get("data")
        return [item for item in data or [] if isinstance(item, dict)]

    async def every(self, where: str, query: dict[str, str]) -> list[JsonDict]:
        """Every item of a list, page after page (`after` the page's `last_id`)."""
        items: list[JsonDict] = []
        after: str | None = None
        for _ in range(_MAX_PAGES):
            got = await self.get(where, {**query, **({"after": after} if after else {})})
            items += [item for item in got.get("data") or [] if isinstance(item, dict)]
            last = got.get("last_id") or (items[-1].get("id") if items else None)
            if not got.get("has_more") or not last:
                break
            after = str(last)
        return items

    async def open_stream(self, session_id: str) -> EventSource | None:
        """`GET /agents/sessions/{id}/events` as an open event stream; None when the server
        answers without one (the turn is then polled)."""
        if self._http is None:
            return None
        headers = {**self._headers, "Accept": "text/event-stream"}
        url = self._base + path("sessions", session_id, "events")
        try:
            got = await self._http.get(
                url,
                params={"include_obfuscation": "false"},
                headers=headers,
                timeout=self._stream_timeout,
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise BackendError(type(exc).__name__, transient=True, code="connection") from exc
        if got.status < 400 and got.content_type == "text/event-stream":
            return EventSource(got)
        try:
            raw = await got.read()
        except (aiohttp.ClientError, TimeoutError):
            raw = b""
        finally:
            got.release()
        if got.status >= 400:
            refused = classify_status(got.status, _json(raw))
            log.warning("session %s: its stream was refused: %s", session_id, refused)
        return None


def _json(raw: bytes) -> object:
    try:
        return json.loads(raw)
    except ValueError:
        return None
