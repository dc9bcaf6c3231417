"""Socket Mode: `serve --socket` connects to the fake Slack's websocket, acks envelopes and
answers as in HTTP mode; a refused app token stops `serve` at once with a clear error."""

from __future__ import annotations

import json
import signal
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.e2e.conftest import StartBridge
from tests.e2e.harness import (
    APP_TOKEN,
    BOT_TOKEN,
    OPENAI_KEY,
    SIGNING_SECRET,
    BridgeProcess,
    base_env,
    wait_for,
)
from tests.e2e.replies import input_texts, posts_in, reply_text
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import dm_event, event_callback

# slack_bolt's AsyncSocketModeHandler: ping_interval=10, also the gap between connect retries.
RETRY_GAP = 10.0


@pytest.fixture
def socket_bridge(start_bridge: StartBridge, slack: FakeSlack) -> BridgeProcess:
    bridge = start_bridge(mode="socket", SLACK_APP_TOKEN=APP_TOKEN)
    slack.wait_for(slack.socket_connected, timeout=15)
    return bridge


@contextmanager
def own_bridge(
    tmp_path: Path, slack: FakeSlack, openai: FakeOpenAI, database_url: str, **env: str | None
) -> Iterator[BridgeProcess]:
    """A Socket Mode bridge outside `start_bridge`: for runs whose log holds slack_sdk's
    tracebacks (the fixture rejects those). A None value removes the variable."""
    full = base_env(
        slack_url=slack.url + "/api/", openai_url=openai.url + "/v1", database_url=database_url
    )
    full["SLACK_APP_TOKEN"] = APP_TOKEN
    for name, value in env.items():
        if value is None:
            full.pop(name, None)
        else:
            full[name] = value
    bridge = BridgeProcess(workdir=tmp_path, env=full, mode="socket")
    try:
        yield bridge
    finally:
        bridge.kill()
        log = bridge.log()
        for secret in (BOT_TOKEN, APP_TOKEN, OPENAI_KEY, SIGNING_SECRET):
            assert secret not in log, "a secret reached the log"


def send_dm_and_check_reply(slack: FakeSlack, openai: FakeOpenAI, text: str) -> None:
    event = dm_event("U1", text)
    envelope_id = slack.socket_send_event(event_callback(event))
    ack = slack.wait_for(lambda: slack.socket_ack(envelope_id), timeout=5)
    assert ack == {"envelope_id": envelope_id}  # no payload: events_api takes none
    [post] = posts_in(slack, event["channel"])
    assert reply_text(post) == f"echo: {text} (turn 1)"
    assert "thread_ts" not in post
    [created] = openai.responses_created()
    assert created["background"] is True and input_texts(created) == [text]


def test_a_dm_over_the_socket_is_acked_and_answered_in_the_dm(
    socket_bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    send_dm_and_check_reply(slack, openai, "hello over the socket")

    opened = slack.calls("apps.connections.open")[-1]  # after serve's check of the token
    assert opened.headers["authorization"] == f"Bearer {APP_TOKEN}"
    assert slack.socket_connections() == 1
    # /healthz is served on $PORT in Socket Mode too; /slack/events is not.
    with urllib.request.urlopen(socket_bridge.url + "/healthz", timeout=5) as response:
        assert json.loads(response.read()) == {"status": "ok", "database": "ok"}
    assert socket_bridge.send(event_callback(dm_event("U2", "over http")))[0] == 404
    assert "connected to Slack in Socket Mode" in socket_bridge.log()
    assert socket_bridge.stop() == 0
    assert not slack.socket_connected()


def test_after_slacks_disconnect_notice_the_bridge_reconnects_and_keeps_answering(
    socket_bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    assert slack.socket_disconnect("refresh_requested") == 1
    # The new connection is up and the old one closed (until then an envelope could go to
    # the connection the client is abandoning; Slack would redeliver it, the fake does not).
    slack.wait_for(
        lambda: slack.socket_connections_opened() == 2 and slack.socket_connections() == 1
    )
    assert len(slack.calls("apps.connections.open")) == 3  # serve's token check, 2 connects
    send_dm_and_check_reply(slack, openai, "still there?")


def test_socket_mode_needs_no_signing_secret(
    tmp_path: Path, slack: FakeSlack, openai: FakeOpenAI, database_url: str
) -> None:
    with own_bridge(tmp_path, slack, openai, database_url, SLACK_SIGNING_SECRET=None) as bridge:
        bridge.start()
        slack.wait_for(slack.socket_connected, timeout=15)
        send_dm_and_check_reply(slack, openai, "no secret needed")


def test_a_refused_app_token_stops_serve_at_once_with_a_clear_error(
    tmp_path: Path, slack: FakeSlack, openai: FakeOpenAI, database_url: str
) -> None:
    slack.app_token = "xapp-another-app"
    with own_bridge(tmp_path, slack, openai, database_url) as bridge:
        bridge.start(wait=False)
        assert bridge.proc is not None
        assert bridge.proc.wait(timeout=30) == 2
        log = bridge.log()
        assert "SLACK_APP_TOKEN was refused by Slack (invalid_auth)" in log
        assert "Traceback" not in log
        assert not slack.socket_connected()
        assert slack.posts() == [] and openai.responses_created() == []


def test_sigterm_stops_a_bridge_that_cannot_connect(
    tmp_path: Path, slack: FakeSlack, openai: FakeOpenAI, database_url: str
) -> None:
    slack.fail_next("apps.connections.open", status=503, times=100)
    with own_bridge(tmp_path, slack, openai, database_url) as bridge:
        bridge.start()
        wait_for(lambda: "Retrying..." in bridge.log(), what="a failed connect")
        assert bridge.proc is not None
        bridge.proc.send_signal(signal.SIGTERM)
        assert bridge.proc.wait(timeout=8) in (0, 2)
