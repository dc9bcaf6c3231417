"""The fake Slack Web API driven through the real slack_sdk clients."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from collections.abc import Callable

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack_api import FakeSlack

BLOCKS = [{"type": "markdown", "text": "**hi** there"}]
METADATA = {"event_type": "bridge_reply", "event_payload": {"turn": "t1"}}


def web(slack: FakeSlack, token: str = "xoxb-test-token") -> WebClient:
    return WebClient(token=token, base_url=slack.url + "/api/")


def test_post_message_with_blocks_and_metadata_reads_back(slack: FakeSlack) -> None:
    client = web(slack)
    posted = client.chat_postMessage(
        channel="C1",
        text="hi there",
        blocks=BLOCKS,
        metadata=METADATA,
        thread_ts="1710000000.000001",
    )
    assert posted["message"]["bot_id"] == "BBOT" and posted["message"]["metadata"] == METADATA
    call = slack.calls("chat.postMessage")[0]
    assert call.params["blocks"] == BLOCKS and call.params["metadata"] == METADATA
    second = client.chat_postMessage(channel="C1", text="top level")
    assert float(second["ts"]) > float(posted["ts"])
    assert [p["text"] for p in slack.posts("C1")] == ["hi there", "top level"]
    history = client.conversations_history(channel="C1", include_all_metadata=True)
    assert [m["text"] for m in history["messages"]] == ["top level"]  # replies stay in threads
    thread = client.conversations_replies(channel="C1", ts="1710000000.000001")
    assert thread["messages"][0].get("metadata") is None
    client.chat_update(channel="C1", ts=second["ts"], text="edited")
    with_meta = client.conversations_history(channel="C1", include_all_metadata=True)
    assert with_meta["messages"][0]["text"] == "edited"
    with pytest.raises(SlackApiError) as caught:
        client.chat_update(channel="C1", ts="1.2", text="x")
    assert caught.value.response["error"] == "message_not_found"


def test_history_includes_metadata_only_when_asked(slack: FakeSlack) -> None:
    client = web(slack)
    client.chat_postMessage(channel="C2", text="x", metadata=METADATA)
    plain = client.conversations_history(channel="C2")["messages"][0]
    full = client.conversations_history(channel="C2", include_all_metadata=True)["messages"][0]
    assert "metadata" not in plain and full["metadata"] == METADATA


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_slack_errors_match_the_real_api(slack: FakeSlack) -> None:
    slack.channel_errors["C404"] = "channel_not_found"
    cases: list[tuple[Callable[[WebClient], object], str]] = [
        (lambda c: c.chat_postMessage(channel="C404", text="x"), "channel_not_found"),
        (
            lambda c: c.chat_postMessage(
                channel="C1", blocks=[{"type": "markdown", "text": "x" * 12_001}]
            ),
            "invalid_blocks",
        ),
        (
            lambda c: c.chat_postMessage(channel="C1", text="x", blocks=[{"type": "divider"}] * 51),
            "invalid_blocks",
        ),
        (lambda c: c.chat_postMessage(channel="C1"), "no_text"),
    ]
    for call, error in cases:
        with pytest.raises(SlackApiError) as caught:
            call(web(slack))
        assert caught.value.response["error"] == error
    with pytest.raises(SlackApiError) as caught:
        web(slack, token="xoxb-wrong").auth_test()
    assert caught.value.response["error"] == "invalid_auth"
    long = web(slack).chat_postMessage(channel="C1", text="y" * 50_000)
    assert len(long["message"]["text"]) == 40_000


def test_reactions_status_and_auth(slack: FakeSlack) -> None:
    client = web(slack)
    auth = client.auth_test()
    assert auth["user_id"] == "UBOT" and "chat:write" in auth.headers["x-oauth-scopes"]
    client.reactions_add(channel="D0DMU1", timestamp="1710000000.000500", name="eyes")
    with pytest.raises(SlackApiError) as caught:
        client.reactions_add(channel="D0DMU1", timestamp="1710000000.000500", name="eyes")
    assert caught.value.response["error"] == "already_reacted"
    assert slack.reactions("D0DMU1", "1710000000.000500") == {"eyes"}
    client.reactions_remove(channel="D0DMU1", timestamp="1710000000.000500", name="eyes")
    assert slack.reactions("D0DMU1", "1710000000.000500") == set()
    client.assistant_threads_setStatus(channel_id="D0DMU1", thread_ts="1.1", status="is thinking…")
    assert slack.statuses("D0DMU1")[0]["status"] == "is thinking…"
    assert client.conversations_open(users="U1")["channel"]["id"] == "D0DMU1"


def test_suggested_prompts_take_no_thread_in_the_agent_view_and_status_still_needs_one(
    slack: FakeSlack,
) -> None:
    client = web(slack)
    prompts = [{"title": "Hi", "message": "Say hi"}]
    client.assistant_threads_setSuggestedPrompts(channel_id="D0DMU1", prompts=prompts)
    [call] = slack.suggested_prompts("D0DMU1")
    assert call["prompts"] == prompts and "thread_ts" not in call
    with pytest.raises(SlackApiError) as caught:
        client.api_call("assistant.threads.setStatus", json={"channel_id": "D0DMU1", "status": "x"})
    assert caught.value.response["error"] == "invalid_arguments"


def test_files_upload_v2_round_trip_and_private_download(slack: FakeSlack) -> None:
    client = web(slack)
    done = client.files_upload_v2(
        channel="C1",
        thread_ts="1710000000.000009",
        content=b"col\n1\n",
        filename="data.csv",
        initial_comment="here",
    )
    file_id = done["file"]["id"]
    [upload] = slack.uploads()
    assert (upload.file_id, upload.filename, upload.content) == (file_id, "data.csv", b"col\n1\n")
    assert (upload.channel, upload.thread_ts) == ("C1", "1710000000.000009")
    info = client.files_info(file=file_id)["file"]
    request = urllib.request.Request(
        info["url_private"], headers={"Authorization": "Bearer xoxb-test-token"}
    )
    with urllib.request.urlopen(request) as response:
        assert response.read() == b"col\n1\n"
    shared = slack.add_file("F0USER", "notes.txt", b"hello", "text/plain")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(shared["url_private"])
    assert caught.value.code == 403


def test_rate_limit_is_retried_by_the_sdk_handler(slack: FakeSlack) -> None:
    slack.fail_next("chat.postMessage", status=429, headers={"Retry-After": "1"})
    client = web(slack)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=1))
    assert client.chat_postMessage(channel="C1", text="after retry")["ok"]
    assert len(slack.calls("chat.postMessage")) == 2
    slack.fail_next("chat.postMessage", error="channel_not_found")
    with pytest.raises(SlackApiError):
        client.chat_postMessage(channel="C1", text="x")


def test_async_client_get_methods_and_latency(slack: FakeSlack) -> None:
    slack.latency["users.info"] = 0.05
    slack.users["U7"] = {"profile": {"title": "CTO"}}

    async def scenario() -> tuple[str, str]:
        client = AsyncWebClient(token="xoxb-test-token", base_url=slack.url + "/api/")
        user = (await client.users_info(user="U7"))["user"]
        info = (await client.conversations_info(channel="D0DMU7"))["channel"]
        return f"{user['tz']}/{user['profile']['title']}", str(info["user"])

    assert asyncio.run(scenario()) == ("Europe/Berlin/CTO", "U7")
    assert slack.wait_for(lambda: slack.calls("users.info"))[0].params == {"user": "U7"}
