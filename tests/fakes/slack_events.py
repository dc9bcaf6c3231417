"""Build and sign what Slack sends to the app's request URL (events, slash commands)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import urllib.error
import urllib.request
import uuid
from typing import Any
from urllib.parse import urlencode

from tests.fakes.slack_store import APP_ID, BOT_USER_ID, TEAM_ID
from tests.fakes.slack_ts import next_ts

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
_event_numbers = itertools.count(1)


def sign(
    secret: str, body: bytes, timestamp: int | None = None, *, content_type: str | None = None
) -> dict[str, str]:
    """Slack's v0 signature headers for `body` (content type guessed from the body)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + ts.encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    if content_type is None:
        content_type = JSON if body.lstrip()[:1] == b"{" else FORM
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": content_type,
    }


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


def event_callback(
    event: dict[str, Any],
    *,
    team_id: str = TEAM_ID,
    event_id: str | None = None,
    api_app_id: str = APP_ID,
) -> dict[str, Any]:
    """The event_callback envelope around `event`; event_id is unique unless given."""
    return {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "context_team_id": team_id,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_event_numbers):08d}TEST",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{uuid.uuid4().hex}",
    }


def url_verification(challenge: str = "challenge-token") -> dict[str, Any]:
    return {
        "token": "legacy-verification-token",
        "challenge": challenge,
        "type": "url_verification",
    }


def _rich_text(text: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "rich_text",
            "block_id": uuid.uuid4().hex[:5],
            "elements": [
                {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}
            ],
        }
    ]


def _message(
    kind: str,
    user: str,
    text: str,
    channel: str,
    ts: str | None,
    thread_ts: str | None,
    extra: dict[str, Any],
) -> dict[str, Any]:
    ts = ts or next_ts()
    event: dict[str, Any] = {
        "type": kind,
        "user": user,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "channel": channel,
        "team": TEAM_ID,
        "client_msg_id": str(uuid.uuid4()),
        "blocks": _rich_text(text),
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    event.update(extra)
    return event


def dm_event(
    user: str,
    text: str,
    *,
    ts: str | None = None,
    channel: str | None = None,
    thread_ts: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A `message` event in the bot's DM with `user` (channel_type "im")."""
    return _message(
        "message",
        user,
        text,
        channel or f"D0DM{user}",
        ts,
        thread_ts,
        {"channel_type": "im", **extra},
    )


def mention_event(
    user: str,
    text: str,
    *,
    channel: str,
    ts: str | None = None,
    thread_ts: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An `app_mention` event; "<@UBOT> " is put in front unless the text mentions it."""
    mention = f"<@{BOT_USER_ID}>"
    full = text if mention in text else f"{mention} {text}"
    return _message("app_mention", user, full, channel, ts, thread_ts, extra)


def channel_message_event(
    user: str,
    text: str,
    *,
    channel: str,
    ts: str | None = None,
    thread_ts: str | None = None,
    channel_type: str = "channel",
    **extra: Any,
) -> dict[str, Any]:
    """A `message` event in a channel (channel_type "channel", or "group" if private)."""
    return _message(
        "message", user, text, channel, ts, thread_ts, {"channel_type": channel_type, **extra}
    )


def assistant_thread_started_event(
    user: str, *, channel: str, thread_ts: str, context_channel: str | None = None
) -> dict[str, Any]:
    """The side panel's `assistant_thread_started` event."""
    return {
        "type": "assistant_thread_started",
        "event_ts": next_ts(),
        "assistant_thread": {
            "user_id": user,
            "channel_id": channel,
            "thread_ts": thread_ts,
            "context": {"channel_id": context_channel, "team_id": TEAM_ID, "enterprise_id": None},
        },
    }


def agent_session_stopped_event(
    user: str, *, channel: str, thread_ts: str, streaming_message_ts: list[str] | None = None
) -> dict[str, Any]:
    """The Stop button's `agent_session_stopped` (docs.slack.dev/reference/events/
    agent_session_stopped): `streaming_message_ts` lists the app's streams Slack stopped,
    empty when none was live; team_id is on the event_callback envelope."""
    return {
        "type": "agent_session_stopped",
        "user": user,
        "channel": channel,
        "thread_ts": thread_ts,
        "streaming_message_ts": list(streaming_message_ts or []),
        "event_ts": next_ts(),
    }


def app_home_opened_event(
    user: str, *, channel: str | None = None, tab: str = "messages"
) -> dict[str, Any]:
    """`app_home_opened`: the user opened the app's Home or (agent view) Messages tab."""
    return {
        "type": "app_home_opened",
        "user": user,
        "channel": channel or f"D0DM{user}",
        "tab": tab,
        "event_ts": next_ts(),
    }


def slash_command_form(
    command: str = "/assistant",
    text: str = "",
    *,
    user_id: str = "U0USER",
    channel_id: str = "C0CHAN",
    response_url: str = "https://hooks.slack.com/commands/T0TEST/1/x",
    **extra: str,
) -> bytes:
    """A slash command invocation, form-encoded as Slack posts it."""
    fields = slash_command_fields(
        command,
        text,
        user_id=user_id,
        channel_id=channel_id,
        response_url=response_url,
        **extra,
    )
    return urlencode(fields).encode()


def slash_command_fields(
    command: str = "/assistant",
    text: str = "",
    *,
    user_id: str = "U0USER",
    channel_id: str = "C0CHAN",
    response_url: str = "https://hooks.slack.com/commands/T0TEST/1/x",
    **extra: str,
) -> dict[str, str]:
    """A slash command's fields (the form Slack posts; the payload of a Socket Mode envelope)."""
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM_ID,
        "team_domain": "test",
        "channel_id": channel_id,
        "channel_name": "directmessage"
        if channel_id.startswith("D")
        else f"chan-{channel_id.lower()}",
        "user_id": user_id,
        "user_name": user_id.lower(),
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": f"{next(_event_numbers)}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex}",
        **extra,
    }


def post_signed(
    url: str,
    body: bytes,
    secret: str,
    *,
    content_type: str,
    retry_num: int | None = None,
    retry_reason: str = "http_timeout",
    timestamp: int | None = None,
    timeout: float = 10.0,
) -> tuple[int, str]:
    """POST a signed request as Slack does; returns (status, body text), errors included."""
    headers = sign(secret, body, timestamp, content_type=content_type)
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = retry_reason
    return post_raw(url, body, headers, timeout=timeout)


def post_raw(
    url: str, body: bytes, headers: dict[str, str], *, timeout: float = 10.0
) -> tuple[int, str]:
    """POST `body` with exactly `headers`; returns (status, body text), errors included."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status), response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")
