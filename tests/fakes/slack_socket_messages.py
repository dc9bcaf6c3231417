"""What Slack sends over a Socket Mode websocket: hello, envelopes, disconnect."""

from __future__ import annotations

import uuid
from typing import Any

from tests.fakes.slack_store import APP_ID, JsonDict

DEBUG_HOST = "applink-fake-1"


def hello(num_connections: int, *, app_id: str = APP_ID) -> JsonDict:
    """The first message on every new connection."""
    return {
        "type": "hello",
        "num_connections": num_connections,
        "debug_info": {
            "host": DEBUG_HOST,
            "build_number": 1,
            "approximate_connection_time": 18060,
        },
        "connection_info": {"app_id": app_id},
    }


def disconnect(reason: str) -> JsonDict:
    """Slack's notice that it will close this connection ("warning", "refresh_requested"…)."""
    return {"type": "disconnect", "reason": reason, "debug_info": {"host": DEBUG_HOST}}


def envelope(
    envelope_type: str,
    payload: dict[str, Any],
    *,
    accepts_response_payload: bool,
    **extra: Any,
) -> JsonDict:
    """An envelope with a fresh envelope_id around `payload`, as Slack sends it."""
    return {
        "envelope_id": str(uuid.uuid4()),
        "payload": payload,
        "type": envelope_type,
        "accepts_response_payload": accepts_response_payload,
        **extra,
    }


def events_api(
    event_callback_body: dict[str, Any], *, retry_attempt: int = 0, retry_reason: str = ""
) -> JsonDict:
    """An Events API envelope: the payload is the whole event_callback body."""
    return envelope(
        "events_api",
        event_callback_body,
        accepts_response_payload=False,
        retry_attempt=retry_attempt,
        retry_reason=retry_reason,
    )


def slash_commands(fields: dict[str, str]) -> JsonDict:
    """A slash command envelope: the payload is the command's fields as a dict."""
    return envelope("slash_commands", dict(fields), accepts_response_payload=True)
