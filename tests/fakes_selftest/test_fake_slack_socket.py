"""The fake Slack's Socket Mode driven through slack_sdk's aiohttp SocketModeClient."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import dm_event, event_callback, slash_command_fields


async def until(check: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + 10.0
    while not (value := check()):
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)
    return value


class Recorder:
    """A Socket Mode client on the fake that acks every request (with `reply` as payload)."""

    def __init__(self, slack: FakeSlack, *, token: str = "xapp-test-token") -> None:
        web = AsyncWebClient(token="xoxb-test-token", base_url=slack.url + "/api/")
        self.client = SocketModeClient(app_token=token, web_client=web, ping_interval=1)
        self.requests: list[SocketModeRequest] = []
        self.raw: list[dict[str, Any]] = []
        self.reply: dict[str, Any] | None = None
        self.client.socket_mode_request_listeners.append(self._on_request)
        self.client.message_listeners.append(self._on_message)

    async def _on_request(self, client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        self.requests.append(req)
        response = SocketModeResponse(envelope_id=req.envelope_id, payload=self.reply)
        await client.send_socket_mode_response(response)

    async def _on_message(
        self, _client: AsyncBaseSocketModeClient, message: dict[str, Any], _raw: str | None
    ) -> None:
        self.raw.append(message)


def run(slack: FakeSlack, scenario: Callable[[Recorder], Awaitable[None]]) -> None:
    async def main() -> None:
        recorder = Recorder(slack)
        try:
            await recorder.client.connect()  # type: ignore[no-untyped-call]
            await scenario(recorder)
        finally:
            await recorder.client.close()  # type: ignore[no-untyped-call]

    asyncio.run(main())


def test_connect_says_hello_then_an_event_is_delivered_and_acked(slack: FakeSlack) -> None:
    body = event_callback(dm_event("U1", "hi over the socket"))

    async def scenario(rec: Recorder) -> None:
        await until(slack.socket_connected)
        await until(lambda: rec.raw)
        assert rec.raw[0]["type"] == "hello"
        assert rec.raw[0]["num_connections"] == 1
        assert rec.raw[0]["connection_info"] == {"app_id": "A0TEST"}
        envelope_id = await asyncio.to_thread(slack.socket_send_event, body)
        ack = await until(lambda: slack.socket_ack(envelope_id))
        assert ack == {"envelope_id": envelope_id}
        [req] = rec.requests
        assert (req.type, req.envelope_id, req.payload) == ("events_api", envelope_id, body)
        assert req.accepts_response_payload is False and req.retry_attempt == 0
        assert req.retry_reason == ""

    run(slack, scenario)
    [sent] = slack.socket_sent()
    assert sent["payload"] == body and sent["type"] == "events_api"
    assert sent["accepts_response_payload"] is False
    [call] = slack.calls("apps.connections.open")
    assert call.headers["authorization"] == "Bearer xapp-test-token"
    assert slack.socket_acks() == [{"envelope_id": sent["envelope_id"]}]
    assert slack.socket_pings() >= 1


def test_the_url_looks_like_slacks_and_needs_its_ticket(slack: FakeSlack) -> None:
    async def scenario() -> str:
        web = AsyncWebClient(base_url=slack.url + "/api/")
        opened = await web.apps_connections_open(app_token="xapp-test-token")
        url = str(opened["url"])
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(url.replace("ticket=", "ticket=x"))
            assert refused.value.status == 401
            async with session.ws_connect(url) as ws:
                hello = await ws.receive_json(timeout=5)
                assert hello["type"] == "hello" and "debug_info" in hello
                await ws.send_str("not json")
                await ws.send_json({"envelope_id": "e1", "payload": {"text": "hi"}})
                await until(lambda: len(slack.socket_received()) == 2)
        return url

    url = asyncio.run(scenario())
    parts = urlsplit(url)
    assert parts.scheme == "ws" and parts.path.startswith("/socket-mode/")
    assert set(parse_qs(parts.query)) == {"ticket", "app_id"}
    assert parse_qs(parts.query)["app_id"] == ["A0TEST"]
    assert [m.raw for m in slack.socket_received()] == [
        "not json",
        '{"envelope_id": "e1", "payload": {"text": "hi"}}',
    ]
    assert slack.socket_received()[0].body is None
    assert slack.socket_acks() == [{"envelope_id": "e1", "payload": {"text": "hi"}}]


def test_a_slash_command_envelope_and_an_ack_with_payload(slack: FakeSlack) -> None:
    fields = slash_command_fields(text="help", user_id="U3", channel_id="D0DMU3")

    async def scenario(rec: Recorder) -> None:
        rec.reply = {"text": "here is help"}
        await until(slack.socket_connected)
        envelope_id = await asyncio.to_thread(slack.socket_send_command, fields)
        ack = await until(lambda: slack.socket_ack(envelope_id))
        assert ack == {"envelope_id": envelope_id, "payload": {"text": "here is help"}}
        [req] = rec.requests
        assert req.type == "slash_commands" and req.payload == fields
        assert req.accepts_response_payload is True

    run(slack, scenario)


def test_wrong_tokens_are_refused(slack: FakeSlack) -> None:
    async def scenario() -> list[str]:
        web = AsyncWebClient(base_url=slack.url + "/api/")
        errors = []
        for call in (
            web.apps_connections_open(app_token="xapp-wrong"),
            web.apps_connections_open(app_token="xoxb-test-token"),
            web.apps_connections_open(app_token=""),
            web.chat_postMessage(token="xapp-test-token", channel="C1", text="x"),
        ):
            with pytest.raises(SlackApiError) as caught:
                await call
            errors.append(str(caught.value.response["error"]))
        slack.app_token = "xapp-rotated"
        assert (await web.apps_connections_open(app_token="xapp-rotated"))["ok"] is True
        return errors

    assert asyncio.run(scenario()) == [
        "invalid_auth",
        "not_allowed_token_type",
        "not_authed",
        "not_allowed_token_type",
    ]
    assert not slack.socket_connected()


def test_a_disconnect_message_makes_the_client_reconnect(slack: FakeSlack) -> None:
    async def scenario(rec: Recorder) -> None:
        await until(slack.socket_connected)
        assert await asyncio.to_thread(slack.socket_disconnect, "refresh_requested") == 1
        await until(lambda: len(slack.calls("apps.connections.open")) == 2)
        await until(lambda: slack.socket_connections_opened() == 2)
        await until(lambda: slack.socket_connections() == 1 and len(rec.raw) >= 2)
        # slack_sdk handles "disconnect" itself (a new URL, then closes the old session);
        # its message listeners see only the two hellos.
        assert [m["type"] for m in rec.raw] == ["hello", "hello"]
        assert [m["type"] for m in slack.socket_sent()] == ["disconnect"]
        envelope_id = await asyncio.to_thread(slack.socket_send_event, event_callback({}))
        await until(lambda: slack.socket_ack(envelope_id))

    run(slack, scenario)


def test_sending_with_no_client_connected_fails_loudly(slack: FakeSlack) -> None:
    assert not slack.socket_connected()
    with pytest.raises(RuntimeError, match="no Socket Mode client"):
        slack.socket_send_event(event_callback({}))
    assert slack.socket_sent() == [] and json.dumps(slack.socket_acks()) == "[]"
