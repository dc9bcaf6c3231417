"""The "Ask the assistant about this" shortcut through the real Bolt app, signed as Slack signs,
against the fake Slack: the framed question is stored for the user's DM, once per payload."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot import messages
from bot.config import DmScope
from handlers import shortcuts
from handlers.routing import Incoming
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import FORM, sign
from tests.fakes.slack_interactions import interactive_form
from tests.fakes.slack_store import TEAM_ID
from tests.handlers.agent_view_app import SECRET, bolt_app

CHANNEL = "C0DEV"


def message_action(
    slack: FakeSlack,
    message: dict[str, Any],
    *,
    user: str = "U1",
    channel: str = CHANNEL,
    action_ts: str = "1583637157.207593",
    tag: str = "ask",
) -> dict[str, Any]:
    """A `message_action` payload as Slack posts it (docs.slack.dev "message_action" payload;
    bolt-python tests/scenario_tests/test_shortcut.py), its response_url on the fake."""
    return {
        "type": "message_action",
        "token": "verification_token",
        "action_ts": action_ts,
        "team": {"id": TEAM_ID, "domain": "test-team"},
        "user": {"id": user, "name": user.lower(), "team_id": TEAM_ID},
        "channel": {"id": channel, "name": "dev"},
        "callback_id": shortcuts.CALLBACK_ID,
        "trigger_id": f"13345224609.738474920.{action_ts.replace('.', '')}",
        "message_ts": message["ts"],
        "message": {"type": "message", "team": TEAM_ID, **message},
        "response_url": slack.response_url(tag),
    }


@dataclass
class ShortcutApp:
    app: AsyncApp
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    accepted: list[Incoming] = field(default_factory=list)

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> bool:
        self.tasks.append(asyncio.create_task(coro, name=name))
        return True

    async def send(self, payload: dict[str, Any]) -> int:
        body = interactive_form(payload)
        headers: dict[str, str | Sequence[str]] = {**sign(SECRET, body, content_type=FORM)}
        response = await self.app.async_dispatch(
            AsyncBoltRequest(body=body.decode(), headers=headers)
        )
        return response.status

    async def settle(self) -> None:
        async with asyncio.timeout(15):
            await asyncio.gather(*self.tasks)


@asynccontextmanager
async def shortcut_app(
    slack: FakeSlack, database_url: str, **settings: Any
) -> AsyncIterator[ShortcutApp]:
    async with bolt_app(slack, database_url, learn_identity=True, **settings) as (
        app,
        config,
        db,
    ):
        wired = ShortcutApp(app=app)
        shortcuts.register(
            app, db=db, settings=config, spawn=wired.spawn, on_accepted=wired.accepted.append
        )
        try:
            yield wired
        finally:
            await asyncio.gather(*wired.tasks, return_exceptions=True)


def synchronously(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test on a loop of its own (the suite has no async plugin)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


def stored(db: Engine) -> list[tuple[Any, ...]]:
    with db.connect() as connection:
        query = "SELECT key, channel_id, user_id, message_ts, reply_thread_ts, text "
        return list(connection.execute(text(query + "FROM inbound_message")))


def notes(slack: FakeSlack, tag: str = "ask") -> list[str]:
    posts = slack.response_url_posts(tag)
    assert all(p["response_type"] == "ephemeral" for p in posts), posts
    return [str(p["text"]) for p in posts]


@synchronously
async def test_a_thread_reply_becomes_the_users_dm_question_with_its_thread(
    slack: FakeSlack, database_url: str, db: Engine
) -> None:
    root = slack.add_message(CHANNEL, "Deploy plan: Friday 5pm?", user="U2")
    slack.add_message(CHANNEL, "Friday is risky", user="U3", thread_ts=root)
    asked = slack.add_message(CHANNEL, "Let's do Thursday", user="U2", thread_ts=root)
    slack.add_message(CHANNEL, "a later reply", user="U3", thread_ts=root)
    message = {"text": "Let's do Thursday", "user": "U2", "ts": asked, "thread_ts": root}
    async with shortcut_app(slack, database_url) as bridge:
        assert await bridge.send(message_action(slack, message)) == 200
        await bridge.settle()
    [(key, channel, user, ts, reply_thread_ts, question)] = stored(db)
    assert (key, channel, user, ts, reply_thread_ts) == (
        f"user:{TEAM_ID}/U1",
        "D0DMU1",
        "U1",
        "1583637157.207593",
        None,
    )
    link = f"https://slack.com/archives/{CHANNEL}/p{asked.replace('.', '')}"
    assert question.startswith(f"The user asks about this Slack message from <@U2> in #dev ({link}")
    assert "Let's do Thursday" in question
    assert "<@U2>: Deploy plan: Friday 5pm?\n<@U3>: Friday is risky" in question
    assert "a later reply" not in question
    assert [i.key for i in bridge.accepted] == [f"user:{TEAM_ID}/U1"]
    assert notes(slack) == [messages.SHORTCUT_ANSWER_IN_DM]
    [intro] = slack.posts("D0DMU1")
    assert link in intro["text"]
    assert slack.posts(CHANNEL) == [] and slack.ephemerals() == []


@synchronously
async def test_a_retry_of_the_same_payload_is_one_question(
    slack: FakeSlack, database_url: str, db: Engine
) -> None:
    ts = slack.add_message(CHANNEL, "What is our SLA?", user="U2")
    payload = message_action(slack, {"text": "What is our SLA?", "user": "U2", "ts": ts})
    async with shortcut_app(slack, database_url, dm_scope=DmScope.THREAD) as bridge:
        assert await bridge.send(payload) == 200
        assert await bridge.send(payload) == 200
        await bridge.settle()
    [row] = stored(db)
    assert row[0] == f"dm:{TEAM_ID}/U1/1583637157.207593"
    assert "Earlier messages" not in row[5] and "[files:" not in row[5]
    assert len(bridge.accepted) == 1 and len(slack.posts("D0DMU1")) == 1


@synchronously
async def test_a_channel_the_bot_cannot_read_gets_the_invite_note_and_no_turn(
    slack: FakeSlack, database_url: str, db: Engine
) -> None:
    for error in ("not_in_channel", "channel_not_found"):
        slack.channel_errors[CHANNEL] = error
        payload = message_action(
            slack, {"text": "secret", "user": "U2", "ts": "1700000000.000100"}, tag=error
        )
        async with shortcut_app(slack, database_url) as bridge:
            assert await bridge.send(payload) == 200
            await bridge.settle()
        [note] = notes(slack, error)
        assert "/invite" in note and "#dev" in note and "<@UBOT>" in note
        assert bridge.accepted == []
    assert stored(db) == [] and slack.posts() == []


@synchronously
async def test_a_message_without_text_or_files_gets_a_hint_and_files_are_named(
    slack: FakeSlack, database_url: str, db: Engine
) -> None:
    ts = slack.add_message(CHANNEL, "", user="U2")
    files = [{"id": "F1", "name": "q3-report.pdf", "title": "Q3 report"}]
    async with shortcut_app(slack, database_url) as bridge:
        assert await bridge.send(message_action(slack, {"text": "", "user": "U2", "ts": ts})) == 200
        with_file = message_action(
            slack, {"text": "", "user": "U2", "ts": ts, "files": files}, action_ts="1.2", tag="f"
        )
        assert await bridge.send(with_file) == 200
        await bridge.settle()
    assert notes(slack) == [messages.SHORTCUT_EMPTY]
    [row] = stored(db)
    assert "[files: q3-report.pdf]" in row[5]


@synchronously
async def test_a_slow_slack_gets_a_try_again_note_within_the_ack(
    slack: FakeSlack, database_url: str, db: Engine
) -> None:
    ts = slack.add_message(CHANNEL, "hello", user="U2")
    slack.hold_answer_next("conversations.open", shortcuts.PRE_ACK_SECONDS + 2)
    async with shortcut_app(slack, database_url) as bridge:
        loop = asyncio.get_running_loop()
        started = loop.time()
        payload = message_action(slack, {"text": "hello", "user": "U2", "ts": ts})
        assert await bridge.send(payload) == 200
        assert loop.time() - started < 3
        await bridge.settle()
    assert notes(slack) == [messages.SHORTCUT_FAILED]
    assert stored(db) == []
