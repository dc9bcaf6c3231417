"""What no listener takes, and what a listener raises: Bolt's error handler for the bridge.

The manifest turns interactivity on, so Slack sends payloads the bridge does not handle
(button presses on other apps' messages, shortcuts, modals, other slash commands). Bolt
answers those 404 and logs the whole body as a warning; Slack shows the user an error and
retries events. They get 200 and one debug line here
(`AsyncApp(raise_error_for_unhandled_request=True)` routes them to this handler).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.response import BoltResponse

from storage.db import is_busy

log = logging.getLogger(__name__)


def register(app: AsyncApp) -> None:
    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> BoltResponse | None:
        if isinstance(error, BoltUnhandledRequestError):
            log.debug("ignored a request the bridge does not handle: %s", describe(body))
            return BoltResponse(status=200, body="")
        if is_busy(error):
            # Not stored: Slack sends it again (the ack must come within 3 s, and the
            # database's write lock was held longer than the ack path waits).
            log.warning("%s not stored: the database is busy; Slack will retry", describe(body))
            return BoltResponse(status=503, body="")
        log.error("failed on %s", describe(body), exc_info=error)
        return None  # Bolt's 500: Slack retries, and the message is stored then


def describe(body: dict[str, Any]) -> str:
    """What a request is, in a few words and none of its content."""
    kind = body.get("type")
    if kind == "event_callback":
        event = body.get("event")
        event_type = event.get("type") if isinstance(event, dict) else None
        return f"event {_short(event_type) if event_type else 'without a type'}"
    if body.get("command"):
        return f"slash command {_short(body['command'])}"
    return _short(kind) if kind else "a request without a type"


def _short(value: Any) -> str:
    return repr(str(value)[:40])
