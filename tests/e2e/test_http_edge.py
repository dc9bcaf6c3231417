"""Whatever reaches `POST /slack/events` gets a 2xx or 4xx at once: never a 500, a stall or
a connection held open."""

from __future__ import annotations

import hashlib
import hmac
import socket
import time
from urllib.parse import urlencode

import pytest
from sqlalchemy.engine import Engine

from tests.e2e.conftest import StartBridge
from tests.e2e.harness import SIGNING_SECRET, BridgeProcess
from tests.e2e.replies import settle, stored_messages
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import (
    FORM,
    JSON,
    dm_event,
    encode,
    event_callback,
    mention_event,
    post_raw,
    sign,
    slash_command_fields,
    slash_command_form,
)
from tests.fakes.slack_interactions import UNHANDLED_PAYLOADS, interactive_form


def _log_lines(bridge: BridgeProcess, words: str) -> list[str]:
    return [line for line in bridge.log().splitlines() if words in line]


def test_an_unsigned_body_that_is_not_utf8_gets_401(bridge: BridgeProcess, db: Engine) -> None:
    body = b'{"type": "event_callback", "event": {"text": "\xff\xfe\xfd"}}'
    forged = sign("not-the-secret", body, content_type=JSON)
    for headers in ({"Content-Type": JSON}, {"Content-Type": FORM}, forged):
        status, _ = post_raw(bridge.url + "/slack/events", body, headers)
        assert status == 401, headers
    assert stored_messages(db) == 0


def test_a_timestamp_that_is_not_a_number_gets_401(bridge: BridgeProcess, db: Engine) -> None:
    body = encode(event_callback(dm_event("U1", "odd timestamp")))
    # Signed as Slack would sign it, but over a timestamp that is not a number.
    digest = hmac.new(SIGNING_SECRET.encode(), b"v0:abc:" + body, hashlib.sha256).hexdigest()
    headers = {
        "X-Slack-Request-Timestamp": "abc",
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": JSON,
    }
    assert post_raw(bridge.url + "/slack/events", body, headers)[0] == 401
    assert stored_messages(db) == 0


def test_signed_bodies_that_are_no_slack_payload_get_400_logged_once_without_the_body(
    bridge: BridgeProcess, db: Engine
) -> None:
    bodies = [
        (b"null", JSON),
        (b'["marker-in-a-list"]', JSON),
        (b'"marker-in-a-string"', JSON),
        (b"123", JSON),
        (b"payload=null", FORM),
        (b'{"type": "event_callback", "event": "marker-as-event"}', JSON),
        (b'{"type": "event_callback", "event": {"type": 5, "text": "marker"}}', JSON),
        (b"[" * 100_000 + b"]" * 100_000, JSON),
    ]
    for body, content_type in bodies:
        status, _ = bridge.send_raw(body, content_type=content_type)
        assert status == 400, body
    assert len(_log_lines(bridge, "the body is not a Slack payload")) == len(bodies)
    assert "marker" not in bridge.log()
    assert stored_messages(db) == 0


def test_a_body_that_stops_arriving_is_closed_after_a_short_read_timeout(
    bridge: BridgeProcess,
) -> None:
    head = (
        b"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000000\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", bridge.port)) as sock:
        sock.sendall(head + b'{"t')
        started = time.monotonic()
        sock.settimeout(15)
        answer = b""
        try:
            while chunk := sock.recv(4096):
                answer += chunk
        except TimeoutError:
            pytest.fail(f"the connection was still open after 15 s (got {answer!r})")
        held = time.monotonic() - started
    assert held < 10, held
    assert answer.startswith(b"HTTP/1.1 408"), answer


def test_interactive_payloads_and_other_slash_commands_get_200_and_one_debug_line(
    start_bridge: StartBridge, slack: FakeSlack, db: Engine
) -> None:
    bridge = start_bridge(LOG_LEVEL="DEBUG")
    for kind, payload in UNHANDLED_PAYLOADS.items():
        status, _ = bridge.send_raw(interactive_form(payload), content_type=FORM)
        assert status == 200, kind
    status, _ = bridge.send_raw(slash_command_form("/hello-world", "Hi"), content_type=FORM)
    assert status == 200
    ignored = _log_lines(bridge, "ignored a request the bridge does not handle")
    assert len(ignored) == len(UNHANDLED_PAYLOADS) + 1
    assert all(" DEBUG " in line for line in ignored)
    assert "Unhandled request" not in bridge.log()  # Bolt's warning, with the whole body
    assert [call.method for call in slack.calls() if call.method != "auth.test"] == []
    assert stored_messages(db) == 0


def test_requests_missing_fields_slack_always_sends_get_200_and_one_log_line(
    start_bridge: StartBridge, slack: FakeSlack, db: Engine
) -> None:
    bridge = start_bridge(LOG_LEVEL="DEBUG")
    mention_without_ts = mention_event("U1", "no ts", channel="C1")
    del mention_without_ts["ts"]
    event_without_type = dm_event("U1", "no type")
    del event_without_type["type"]
    command = slash_command_fields("/assistant", "list")
    del command["channel_id"]

    assert bridge.send(event_callback(mention_without_ts))[0] == 200
    assert bridge.send(event_callback(event_without_type))[0] == 200
    assert bridge.send_raw(urlencode(command).encode(), content_type=FORM)[0] == 200

    assert len(_log_lines(bridge, "ignored an event of type app_mention without ts")) == 1
    assert len(_log_lines(bridge, "does not handle: event without a type")) == 1
    assert len(_log_lines(bridge, "ignored a slash command without channel_id")) == 1
    settle(bridge, slack)
    assert stored_messages(db) == 1
    assert slack.calls("chat.postEphemeral") == []
