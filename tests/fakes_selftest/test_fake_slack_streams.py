"""The fake Slack's streams, rate limits, agent sessions and agent-view payloads, driven
through the real slack_sdk AsyncWebClient (and Bolt, for what Slack sends the app)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes import slack_events as events
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_interactions import feedback_press

DM, THREAD = "D0DMU1", "1710000000.000100"
CHANNEL = "C0CHAN"
FEEDBACK = [{"type": "context_actions", "elements": [{"type": "feedback_buttons"}]}]
METADATA = {"event_type": "assistant_bridge_reply", "event_payload": {"reply_id": 7}}


def client_of(slack: FakeSlack, **kwargs: Any) -> AsyncWebClient:
    return AsyncWebClient(token=slack.bot_token, base_url=slack.url + "/api/", **kwargs)


def md(text: str) -> dict[str, str]:
    return {"type": "markdown_text", "text": text}


async def error_of(call: Awaitable[object]) -> str:
    with pytest.raises(SlackApiError) as caught:
        await call
    return str(caught.value.response["error"])


def test_a_stream_is_a_bot_message_in_the_thread_that_shows_its_text_as_it_grows(
    slack: FakeSlack,
) -> None:
    slack.add_message(DM, "question", ts=THREAD)

    async def scenario() -> tuple[str, list[dict[str, Any]]]:
        client = client_of(slack)
        started = await client.chat_startStream(channel=DM, thread_ts=THREAD, chunks=[md("Hel")])
        ts = str(started["ts"])
        assert slack.visible_text(DM, ts) == "Hel"  # visible before the stream ends
        await client.chat_appendStream(channel=DM, ts=ts, chunks=[md("lo, ")])
        await client.chat_stopStream(
            channel=DM, ts=ts, chunks=[md("world")], blocks=FEEDBACK, metadata=METADATA
        )
        replies = await client.conversations_replies(
            channel=DM, ts=THREAD, include_all_metadata=True
        )
        return ts, replies["messages"]

    ts, thread = asyncio.run(scenario())
    assert [m["ts"] for m in thread] == [THREAD, ts]
    streamed = thread[1]
    assert (streamed["bot_id"], streamed["thread_ts"], streamed["metadata"]) == (
        "BBOT",
        THREAD,
        METADATA,
    )
    assert streamed["blocks"] == [{"type": "markdown", "text": "Hello, world"}, *FEEDBACK]
    rec = slack.stream(DM, ts)
    assert rec is not None
    assert (rec.text, rec.state, rec.ended_by, rec.final_blocks) == (
        "Hello, world",
        "stopped",
        "app",
        FEEDBACK,
    )
    assert [length for _, length in rec.timeline] == [0, 3, 7, 12]
    assert [t for t, _ in rec.timeline] == sorted(t for t, _ in rec.timeline)
    assert slack.visible_text(DM, ts) == "Hello, world"


def test_stream_calls_are_refused_as_slack_refuses_them(slack: FakeSlack) -> None:
    async def scenario() -> dict[str, str]:
        client = client_of(slack)
        found: dict[str, str] = {}
        found["no recipient"] = await error_of(
            client.chat_startStream(channel=CHANNEL, thread_ts=THREAD, markdown_text="x")
        )
        found["no team"] = await error_of(
            client.chat_startStream(
                channel=CHANNEL, thread_ts=THREAD, recipient_user_id="U1", markdown_text="x"
            )
        )
        found["dm without thread"] = await error_of(
            client.api_call("chat.startStream", json={"channel": DM, "markdown_text": "x"})
        )
        found["too long"] = await error_of(
            client.chat_startStream(channel=DM, thread_ts=THREAD, markdown_text="x" * 12_001)
        )
        ts = str(
            (await client.chat_startStream(channel=DM, thread_ts=THREAD, chunks=[md("a")]))["ts"]
        )
        found["other shape"] = await error_of(
            client.chat_appendStream(channel=DM, ts=ts, markdown_text="b")
        )
        found["both shapes"] = await error_of(
            client.chat_appendStream(channel=DM, ts=ts, markdown_text="b", chunks=[md("b")])
        )
        found["nothing"] = await error_of(
            client.api_call("chat.appendStream", json={"channel": DM, "ts": ts})
        )
        found["bad task"] = await error_of(
            client.chat_appendStream(
                channel=DM,
                ts=ts,
                chunks=[{"type": "task_update", "id": "t", "title": "T", "status": "done"}],
            )
        )
        found["edit while streaming"] = await error_of(
            client.chat_update(channel=DM, ts=ts, text="edited")
        )
        await client.chat_stopStream(channel=DM, ts=ts)
        found["append after stop"] = await error_of(
            client.chat_appendStream(channel=DM, ts=ts, chunks=[md("c")])
        )
        found["stop after stop"] = await error_of(client.chat_stopStream(channel=DM, ts=ts))
        found["unknown message"] = await error_of(
            client.chat_appendStream(channel=DM, ts="1.000001", chunks=[md("c")])
        )
        slack.add_message(DM, "from a user", ts="1710000000.000200")
        found["not the app's"] = await error_of(
            client.chat_appendStream(channel=DM, ts="1710000000.000200", chunks=[md("c")])
        )
        slack.stream_refusals[DM] = "messages_tab_disabled"
        found["refused here"] = await error_of(
            client.chat_startStream(channel=DM, thread_ts=THREAD, chunks=[md("a")])
        )
        slack.stream_refusals.clear()
        slack.stream_refusals["*"] = "channel_type_not_supported"
        found["refused everywhere"] = await error_of(
            client.chat_startStream(
                channel=CHANNEL,
                thread_ts=THREAD,
                recipient_user_id="U1",
                recipient_team_id="T0TEST",
                chunks=[md("a")],
            )
        )
        return found

    assert asyncio.run(scenario()) == {
        "no recipient": "missing_recipient_user_id",
        "no team": "missing_recipient_team_id",
        "dm without thread": "invalid_arguments",
        "too long": "msg_too_long",
        "other shape": "streaming_mode_mismatch",
        "both shapes": "cannot_provide_both_markdown_text_and_chunks",
        "nothing": "markdown_text_or_chunks_required",
        "bad task": "invalid_chunks",
        "edit while streaming": "streaming_state_conflict",
        "append after stop": "message_not_in_streaming_state",
        "stop after stop": "message_not_in_streaming_state",
        "unknown message": "message_not_found",
        "not the app's": "message_not_owned_by_app",
        "refused here": "messages_tab_disabled",
        "refused everywhere": "channel_type_not_supported",
    }


def test_a_stopped_stream_is_updated_like_any_message(slack: FakeSlack) -> None:
    async def scenario() -> str:
        client = client_of(slack)
        ts = str(
            (
                await client.chat_startStream(
                    channel=CHANNEL,
                    thread_ts=THREAD,
                    recipient_user_id="U1",
                    recipient_team_id="T0TEST",
                    markdown_text="draft",
                )
            )["ts"]
        )
        await client.chat_stopStream(channel=CHANNEL, ts=ts)
        await client.chat_update(
            channel=CHANNEL,
            ts=ts,
            text="final",
            blocks=[{"type": "markdown", "text": "the final answer"}],
            metadata=METADATA,
        )
        return ts

    ts = asyncio.run(scenario())
    assert slack.visible_text(CHANNEL, ts) == "the final answer"
    assert slack.messages(CHANNEL)[0]["metadata"] == METADATA
    rec = slack.stream(CHANNEL, ts)
    assert rec is not None and rec.text == "draft"  # what the stream itself showed


def test_task_cards_keep_their_last_status(slack: FakeSlack) -> None:
    source = {"type": "url", "url": "https://example.com/a", "text": "A"}

    async def scenario() -> str:
        client = client_of(slack)
        ts = str(
            (
                await client.chat_startStream(
                    channel=DM,
                    thread_ts=THREAD,
                    chunks=[
                        {
                            "type": "task_update",
                            "id": "s1",
                            "title": "Search",
                            "status": "in_progress",
                        }
                    ],
                )
            )["ts"]
        )
        await client.chat_appendStream(
            channel=DM,
            ts=ts,
            chunks=[
                md("Found it."),
                {
                    "type": "task_update",
                    "id": "s1",
                    "title": "Search",
                    "status": "complete",
                    "sources": [source],
                },
                {"type": "plan_update", "title": "Plan"},
            ],
        )
        return ts

    ts = asyncio.run(scenario())
    rec = slack.stream(DM, ts)
    assert rec is not None
    assert rec.tasks == {
        "s1": {"id": "s1", "title": "Search", "status": "complete", "sources": [source]}
    }
    assert rec.plan_title == "Plan" and rec.text == "Found it."
    blocks = slack.messages(DM)[0]["blocks"]
    assert [b["type"] for b in blocks] == ["task_card", "markdown"]
    assert blocks[0]["status"] == "complete"


def test_streams_end_when_their_time_is_up_or_the_user_presses_stop(slack: FakeSlack) -> None:
    async def start(client: AsyncWebClient) -> str:
        return str(
            (await client.chat_startStream(channel=DM, thread_ts=THREAD, chunks=[md("a")]))["ts"]
        )

    async def scenario() -> dict[str, str]:
        client = client_of(slack)
        found: dict[str, str] = {}
        now = await start(client)
        slack.expire_stream(DM, now)
        found["expired now"] = await error_of(
            client.chat_appendStream(channel=DM, ts=now, chunks=[md("b")])
        )
        slack.stream_idle_expiry = 0.2
        idle = await start(client)
        await client.chat_appendStream(channel=DM, ts=idle, chunks=[md("b")])  # within the time
        slack.wait_for(lambda: (r := slack.stream(DM, idle)) is not None and r.state == "expired")
        found["idle"] = await error_of(client.chat_stopStream(channel=DM, ts=idle))
        slack.stream_idle_expiry = None
        stopped = await start(client)
        event = slack.press_stop(DM, THREAD, user="U1")
        assert event["streaming_message_ts"] == [stopped]
        found["stopped by user"] = await error_of(
            client.chat_appendStream(channel=DM, ts=stopped, chunks=[md("b")])
        )
        return found

    assert asyncio.run(scenario()) == {
        "expired now": "message_not_in_streaming_state",
        "idle": "message_not_in_streaming_state",
        "stopped by user": "stopped_by_user",
    }
    assert [r.ended_by for r in slack.streams(DM)] == ["expiry", "expiry", "user"]
    assert slack.press_stop(DM, THREAD)["streaming_message_ts"] == []  # nothing live now


def test_rate_limits_answer_429_with_retry_after_per_method(slack: FakeSlack) -> None:
    slack.rate_limits["chat.appendStream"] = (2, 60.0)
    slack.rate_limits["chat.postMessage"] = (1, 1.0)

    async def scenario() -> tuple[int, str, str, float]:
        client = client_of(slack)
        ts = str(
            (await client.chat_startStream(channel=DM, thread_ts=THREAD, chunks=[md("a")]))["ts"]
        )
        for text in ("b", "c"):
            await client.chat_appendStream(channel=DM, ts=ts, chunks=[md(text)])
        with pytest.raises(SlackApiError) as caught:
            await client.chat_appendStream(channel=DM, ts=ts, chunks=[md("d")])
        status = caught.value.response.status_code
        headers = {k.lower(): v for k, v in caught.value.response.headers.items()}
        await client.chat_postMessage(channel=DM, text="one")
        # slack_sdk's own 429 handler waits out the Retry-After (whole seconds) and retries.
        patient = client_of(
            slack, retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)]
        )
        began = time.monotonic()
        await patient.chat_postMessage(channel=DM, text="two")
        return (
            status,
            str(caught.value.response["error"]),
            str(headers["retry-after"]),
            time.monotonic() - began,
        )

    status, error, retry_after, waited = asyncio.run(scenario())
    assert (status, error) == (429, "ratelimited")
    assert 55 <= int(retry_after) <= 60
    assert waited >= 0.9
    assert [c.method for c in slack.throttled()] == ["chat.appendStream", "chat.postMessage"]
    rec = slack.stream(DM, ts=slack.streams(DM)[0].ts)
    assert rec is not None and rec.text == "abc"  # a refused call changes nothing
    assert [p["text"] for p in slack.posts(DM)] == ["one", "two"]


def test_agent_sessions_are_set_renamed_and_checked(slack: FakeSlack) -> None:
    async def scenario() -> dict[str, str]:
        client = client_of(slack)
        found: dict[str, str] = {}
        found["rename first"] = await error_of(
            client.agents_sessions_rename(channel_id=DM, thread_ts=THREAD, title="x")
        )
        answer = await client.agents_sessions_setStatus(
            channel_id=DM, thread_ts=THREAD, status="processing", title="Maths"
        )
        assert (answer["status"], answer["title"]) == ("processing", "Maths")
        await client.agents_sessions_rename(channel_id=DM, thread_ts=THREAD, title="Algebra")
        await client.agents_sessions_setStatus(channel_id=DM, thread_ts=THREAD, status="active")
        found["bad status"] = await error_of(
            client.agents_sessions_setStatus(channel_id=DM, thread_ts=THREAD, status="busy")
        )
        found["no thread"] = await error_of(
            client.agents_sessions_setStatus(channel_id=DM, status="active")
        )
        found["long title"] = await error_of(
            client.agents_sessions_rename(channel_id=DM, thread_ts=THREAD, title="x" * 201)
        )
        return found

    assert asyncio.run(scenario()) == {
        "rename first": "session_not_found",
        "bad status": "invalid_status",
        "no thread": "thread_ts_required",
        "long title": "invalid_name",
    }
    assert slack.sessions() == {(DM, THREAD): {"title": "Algebra", "status": "active"}}
    assert [c["kind"] for c in slack.session_calls()] == [
        "session_status",
        "session_title",
        "session_status",
    ]


def test_bolt_routes_the_agent_view_payloads(slack: FakeSlack) -> None:
    """agent_session_stopped, app_home_opened (messages tab) and a feedback press reach
    Bolt's listeners with the fields the bridge reads."""
    seen: dict[str, Any] = {}
    posted = slack.add_message(DM, "answer", ts="1710000000.000300", thread_ts=THREAD)
    message = slack.messages(DM)[0]

    async def scenario() -> None:
        app = AsyncApp(
            client=client_of(slack),
            request_verification_enabled=False,
        )
        app.event("agent_session_stopped")(_keep(seen, "stopped"))
        app.event("app_home_opened")(_keep(seen, "home"))
        app.action("feedback")(_keep(seen, "feedback"))
        for body in (
            events.event_callback(
                events.agent_session_stopped_event(
                    "U1", channel=DM, thread_ts=THREAD, streaming_message_ts=[posted]
                )
            ),
            events.event_callback(events.app_home_opened_event("U1")),
        ):
            response = await app.async_dispatch(AsyncBoltRequest(body=json.dumps(body)))
            assert response.status == 200
        press = feedback_press(message, channel=DM, value="positive:7", user="U1")
        form = "payload=" + json.dumps(press)
        response = await app.async_dispatch(
            AsyncBoltRequest(
                body=form, headers={"content-type": "application/x-www-form-urlencoded"}
            )
        )
        assert response.status == 200

    asyncio.run(scenario())
    stopped, home, feedback = seen["stopped"], seen["home"], seen["feedback"]
    assert (stopped["channel"], stopped["thread_ts"], stopped["streaming_message_ts"]) == (
        DM,
        THREAD,
        [posted],
    )
    assert (home["tab"], home["channel"], home["user"]) == ("messages", "D0DMU1", "U1")
    action = feedback["actions"][0]
    assert (action["type"], action["value"]) == ("feedback_buttons", "positive:7")
    assert feedback["container"]["message_ts"] == posted
    assert feedback["container"]["thread_ts"] == THREAD
    assert feedback["message"]["ts"] == posted and feedback["user"]["id"] == "U1"


def _keep(seen: dict[str, Any], name: str) -> Callable[..., Awaitable[None]]:
    async def listener(ack: Callable[[], Awaitable[None]], body: dict[str, Any]) -> None:
        await ack()
        payload = body.get("event", body)
        seen[name] = payload

    return listener
