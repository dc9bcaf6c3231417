"""The HTTP side: `POST /slack/events` for Slack, `GET /healthz` for the platform."""

from __future__ import annotations

import logging

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_sdk.signature import SignatureVerifier

from bot.app import Bridge

log = logging.getLogger(__name__)


def build_web_app(bridge: Bridge, *, slack_routes: bool = True) -> web.Application:
    async def slack_events(request: web.Request) -> web.Response:
        try:
            bolt_request = await to_bolt_request(request)
        except ValueError:
            # Bolt parses the body before it checks the signature; a body it cannot parse
            # gets 401 if unsigned (as any forged request), else a plain 400, never a 500.
            body = await request.text()
            verifier = SignatureVerifier(bridge.settings.slack_signing_secret)
            if not verifier.is_valid_request(body, dict(request.headers)):
                return web.json_response({"ok": False, "error": "invalid_signature"}, status=401)
            log.warning("a signed request to /slack/events had a body that is not valid")
            return web.json_response({"ok": False, "error": "bad_request"}, status=400)
        bolt_response = await bridge.bolt.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    async def healthz(_request: web.Request) -> web.Response:
        if await bridge.database_ok():
            return web.json_response({"status": "ok", "database": "ok"})
        return web.json_response({"status": "unavailable", "database": "unreachable"}, status=503)

    app = web.Application(client_max_size=4 * 1024 * 1024)
    app.router.add_get("/healthz", healthz)
    if slack_routes:
        app.router.add_post("/slack/events", slack_events)
    return app
