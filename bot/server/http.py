"""The HTTP side: `POST /slack/events` for Slack, `GET /healthz` for the platform."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.app import Bridge

log = logging.getLogger(__name__)

# Slack sends its small bodies at once; a body that stops arriving is not waited for
# longer than this (aiohttp itself would hold the connection as long as the client likes).
BODY_READ_SECONDS = 5.0


def build_web_app(bridge: Bridge, *, slack_routes: bool = True) -> web.Application:
    app = web.Application(client_max_size=4 * 1024 * 1024)
    health = HealthLog()

    async def healthz(_request: web.Request) -> web.Response:
        if health.record(await bridge.database_problem()):
            return web.json_response({"status": "ok", "database": "ok"})
        return web.json_response({"status": "unavailable", "database": "unreachable"}, status=503)

    app.router.add_get("/healthz", healthz)
    if slack_routes:
        verifier = SignatureVerifier(bridge.settings.slack_signing_secret)

        async def slack_events(request: web.Request) -> web.StreamResponse:
            body = await read_body(request)
            if body is None:
                log.info(
                    "closed a request whose body did not arrive within %s s", BODY_READ_SECONDS
                )
                return _refusal(408, "request_timeout", close=True)
            text = signed_text(verifier, body, request.headers)
            if text is None:
                log.info("refused a request to /slack/events: bad or stale signature")
                return _refusal(401, "invalid_signature")
            bolt_request = to_bolt_request(text, request)
            if bolt_request is None:
                log.warning(
                    "refused a signed request to /slack/events: the body is not a Slack"
                    " payload (%s, %d bytes)",
                    request.content_type,
                    len(body),
                )
                return _refusal(400, "bad_request")
            return await to_aiohttp_response(await bridge.bolt.async_dispatch(bolt_request))

        app.router.add_post("/slack/events", slack_events)
    return app


async def read_body(request: web.Request) -> bytes | None:
    """The whole body, or None if it did not arrive within BODY_READ_SECONDS."""
    try:
        async with asyncio.timeout(BODY_READ_SECONDS):
            return await request.read()
    except TimeoutError:
        return None


def signed_text(verifier: SignatureVerifier, body: bytes, headers: Any) -> str | None:
    """The body as text if Slack signed it (fresh timestamp, matching signature), else None.

    Checked before anything parses the body: Bolt parses first and verifies after, so a
    forged body it cannot parse answered 500. Slack signs UTF-8 text; a body that is not
    UTF-8, or a timestamp that is not a number, cannot be a signed request.
    """
    try:
        text = body.decode("utf-8")
        return text if verifier.is_valid_request(text, headers) else None
    except ValueError:  # UnicodeDecodeError, or int() of the timestamp header
        return None


def to_bolt_request(text: str, request: web.Request) -> AsyncBoltRequest | None:
    """Bolt's request for a signed body, or None if the body is not a Slack payload.

    Slack's payloads are JSON objects (or forms, for slash commands, with an object in
    `payload` for interactivity). Bolt reads its context out of the parsed body as it
    builds the request, and fails on anything else (`null`, `[]`, a string, a number).
    """
    if not text.strip():
        return None
    try:
        bolt_request = AsyncBoltRequest(
            body=text, query=request.query_string, headers=dict(request.headers)
        )
    except (ValueError, AttributeError, TypeError, RecursionError):
        return None
    event = bolt_request.body.get("event", {})
    if not isinstance(event, dict) or not isinstance(event.get("type", ""), str):
        return None  # Bolt's listener matching would raise on it
    return bolt_request


class HealthLog:
    """Logs the database's health when it changes (down, up again), not at every probe."""

    def __init__(self) -> None:
        self.ok = True

    def record(self, problem: str | None) -> bool:
        if problem is not None and self.ok:
            log.warning("health check: the database is unavailable: %s", problem)
        elif problem is None and not self.ok:
            log.info("health check: the database is available again")
        self.ok = problem is None
        return self.ok


def _refusal(status: int, error: str, *, close: bool = False) -> web.Response:
    response = web.json_response({"ok": False, "error": error}, status=status)
    if close:
        response.force_close()
    return response
