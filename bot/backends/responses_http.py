"""The two calls every Responses turn makes — the background create and the status poll —
on plain aiohttp (`ResponsesHttpClient`), or through the SDK for a backend without a session;
and on aiohttp only, the streamed create and the stream's resume."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import aiohttp
from openai import AsyncOpenAI

from bot.backends.base import call, classify_status
from bot.errors import BackendError

JsonDict = dict[str, Any]


def api_headers(client: AsyncOpenAI) -> dict[str, str]:
    """The headers the SDK client sends with every call: its key, organization, project."""
    headers = {
        "Authorization": f"Bearer {client.api_key}",
        "Accept": "application/json",
        "User-Agent": f"slack-assistant-bridge {client.user_agent}",
    }
    if client.organization:
        headers["OpenAI-Organization"] = client.organization
    if client.project:
        headers["OpenAI-Project"] = client.project
    return headers


class ResponsesHttpClient:
    """The two calls every turn makes, on plain aiohttp: the background create and the status
    poll (`GET /responses/{id}`), the most frequent call.

    The SDK's request machinery (parameter transform, options, header merging, auth hooks,
    its httpx layer over aiohttp, response models) cost 0.7 ms of CPU per poll against
    0.14 ms here. Bridge CPU at 40 events/s (`bench/load.py`, see docs/design.md): polls
    moved here 80 % → 72 %; creates posted untyped, then here, 74 % → 62 % → 58 %.
    Same base URL, key, organization and project as the SDK client; errors are
    classified exactly as the SDK's are (`classify_status`). Neither call is
    retried here: a failed poll is tried again at the next one, and a create is never
    repeated blindly anyway (the engine looks for the run first).
    """

    def __init__(
        self, client: AsyncOpenAI, http: aiohttp.ClientSession, *, stream_idle: float = 30.0
    ) -> None:
        self._http = http
        self._base = str(client.base_url).rstrip("/")
        self._headers = api_headers(client)
        self._poll_timeout = aiohttp.ClientTimeout(total=30)
        # A background create answers at once; a short timeout keeps it inside the lease.
        self._create_timeout = aiohttp.ClientTimeout(total=20)
        # A stream lasts as long as the run: no total, but `sock_read` ends one that stays
        # silent for `stream_idle` seconds (any bytes count, keep-alive comments too).
        self._stream_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=20, sock_read=stream_idle
        )
        self._stream_headers = {**self._headers, "Accept": "text/event-stream"}

    async def read(self, response_id: str) -> JsonDict:
        """The response's JSON, as `GET /responses/{id}` returns it."""
        url = f"{self._base}/responses/{quote(response_id, safe='')}"
        return await self._send("GET", url, None, self._poll_timeout)

    async def create(self, body: JsonDict) -> JsonDict:
        """`POST /responses` with `body` (already in wire form); the new response's JSON."""
        return await self._send("POST", f"{self._base}/responses", body, self._create_timeout)

    async def create_stream(self, body: JsonDict) -> aiohttp.ClientResponse | JsonDict:
        """`POST /responses` with `body` (`"stream": true` in it): the open event stream, or
        the JSON a server that ignores `stream` answers with."""
        return await self._open("POST", f"{self._base}/responses", body, None)

    async def resume_stream(
        self, response_id: str, after: int
    ) -> aiohttp.ClientResponse | JsonDict:
        """`GET /responses/{id}?stream=true&starting_after=N`: the events after N, open."""
        url = f"{self._base}/responses/{quote(response_id, safe='')}"
        query = {"stream": "true", "starting_after": str(after)}
        return await self._open("GET", url, None, query)

    async def _open(
        self, method: str, url: str, body: JsonDict | None, query: dict[str, str] | None
    ) -> aiohttp.ClientResponse | JsonDict:
        """The answer, left open when it is an event stream; the caller closes it."""
        try:
            got = await self._http.request(
                method,
                url,
                json=body,
                params=query,
                headers=self._stream_headers,
                timeout=self._stream_timeout,
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise BackendError(type(exc).__name__, transient=True, code="connection") from exc
        if got.status < 400 and got.content_type == "text/event-stream":
            return got
        try:
            raw = await got.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise BackendError(type(exc).__name__, transient=True, code="connection") from exc
        finally:
            got.release()
        return decoded(got.status, raw)

    async def _send(
        self, method: str, url: str, body: JsonDict | None, limit: aiohttp.ClientTimeout
    ) -> JsonDict:
        try:
            async with self._http.request(
                method, url, json=body, headers=self._headers, timeout=limit
            ) as got:
                raw = await got.read()
                status = got.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise BackendError(type(exc).__name__, transient=True, code="connection") from exc
        return decoded(status, raw)


def decoded(status: int, raw: bytes) -> JsonDict:
    """An answer's JSON object; an error status as the BackendError the SDK's would be."""
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        data = {}
    if status >= 400:
        raise classify_status(status, data, raw.decode("utf-8", "replace")[:500])
    return data if isinstance(data, dict) else {}


class ResponsesSdkClient:
    """The same two calls through the SDK, for a backend built without an aiohttp session.
    The bridge always gives one; this is the reference `tests/bot/backends/test_responses_http.py`
    holds `ResponsesHttpClient` to (same requests, same answers, same errors)."""

    def __init__(self, client: AsyncOpenAI) -> None:
        self._client = client
        # A create is not idempotent (no idempotency key): never let the SDK repeat one on
        # its own; the engine looks for the run before it tries again. A background create
        # answers at once; a short timeout keeps it well inside the turn's lease.
        self._create_client = client.with_options(max_retries=0, timeout=20.0)

    async def read(self, response_id: str) -> JsonDict:
        raw = await call(lambda: self._client.get(f"/responses/{response_id}", cast_to=object))
        return raw if isinstance(raw, dict) else {}

    async def create(self, body: JsonDict) -> JsonDict:
        raw = await call(lambda: self._create_client.post("/responses", body=body, cast_to=object))
        return raw if isinstance(raw, dict) else {}
