"""The Slack thread around a mention: read once, labelled, files named, newest kept."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.identity import Bot
from bot.slack.people import People
from bot.slack.thread_context import HEADER, MAX_PAGES, ThreadContext
from storage import inbox
from storage.db import Database
from storage.migrate import migrate
from storage.models import InboundMessage
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_store import BOT_USER_ID

CHANNEL = "C0GENERAL"
OURS = Bot(
    user_id=BOT_USER_ID, bot_id="B0BRIDGE", team_id="T0TEST", enterprise_id=None, scopes=None
)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.users["U0ANA"] = {"profile": {"display_name": "Ana Lima"}}
        yield fake


def _mention(ts: str, thread: str, *, user: str = "U0BO") -> InboundMessage:
    return InboundMessage(
        key=f"channel:T0TEST/{CHANNEL}",
        team_id="T0TEST",
        channel_id=CHANNEL,
        user_id=user,
        message_ts=ts,
        reply_thread_ts=thread,
        text="summarize this",
    )


def _context(
    slack: FakeSlack, database_url: str, stored: list[InboundMessage], *, max_chars: int = 8000
) -> list[str | None]:
    """Store `stored` as the handler does, then ask for each one's context in turn."""
    migrate(database_url)

    async def scenario() -> list[str | None]:
        db = Database(database_url)
        try:
            client = AsyncWebClient(token=slack.bot_token, base_url=slack.url + "/api/")
            thread = ThreadContext(
                db=db, slack=client, people=People(client), max_chars=max_chars, bot=lambda: OURS
            )
            async with db.session() as session:
                for message in stored:
                    await inbox.enqueue_message(session=session, message=message)
            return [await thread.for_message(message) for message in stored]
        finally:
            await db.close()

    return asyncio.run(scenario())


def test_a_mention_mid_thread_gets_the_earlier_messages_once(
    slack: FakeSlack, database_url: str
) -> None:
    root = slack.add_message(CHANNEL, "Q3 numbers are in", user="U0ANA")
    slack.add_message(
        CHANNEL, "", user="U0ANA", thread_ts=root, files=[{"id": "F1", "name": "q3.pdf"}]
    )
    slack.add_message(CHANNEL, "an old answer", user=BOT_USER_ID, thread_ts=root, bot_id="B0BRIDGE")
    first = slack.add_message(CHANNEL, "<@UBOT> summarize this", user="U0BO", thread_ts=root)
    second = slack.add_message(CHANNEL, "and the risks?", user="U0BO", thread_ts=root)

    context, again = _context(slack, database_url, [_mention(first, root), _mention(second, root)])
    assert context == "\n".join(
        [
            HEADER,
            "[Ana Lima] Q3 numbers are in",
            "[Ana Lima] (files: q3.pdf)",
            "[you (the assistant)] an old answer",
        ]
    )
    assert again is None  # a bot thread now: the assistant has it
    assert len(slack.calls("conversations.replies")) == 1
    assert slack.calls("files.info") == []


def test_a_top_level_mention_has_no_thread_context(slack: FakeSlack, database_url: str) -> None:
    ts = slack.add_message(CHANNEL, "<@UBOT> hi", user="U0BO")
    assert _context(slack, database_url, [_mention(ts, ts)]) == [None]
    assert slack.calls("conversations.replies") == []


def test_a_thread_of_thousands_is_cut_to_the_limit_newest_kept(
    slack: FakeSlack, database_url: str
) -> None:
    root = slack.add_message(CHANNEL, "message 0", user="U0ANA")
    for n in range(1, 3000):
        slack.add_message(CHANNEL, f"message {n}", user="U0ANA", thread_ts=root)
    mention = slack.add_message(CHANNEL, "<@UBOT> summarize", user="U0BO", thread_ts=root)

    (context,) = _context(slack, database_url, [_mention(mention, root)], max_chars=500)
    assert context is not None and len(context) <= 500
    lines = context.splitlines()
    assert lines[0] == HEADER and lines[-1] == "[Ana Lima] message 2999"
    assert lines[1:] == [f"[Ana Lima] message {n}" for n in range(3000 - len(lines) + 1, 3000)]
    assert len(slack.calls("conversations.replies")) <= MAX_PAGES


def test_an_unreadable_thread_is_no_context(slack: FakeSlack, database_url: str) -> None:
    root = slack.add_message(CHANNEL, "secret", user="U0ANA")
    mention = slack.add_message(CHANNEL, "<@UBOT> hi", user="U0BO", thread_ts=root)
    slack.fail_next("conversations.replies", error="missing_scope")
    assert _context(slack, database_url, [_mention(mention, root)]) == [None]
