"""Pruning forgets old answered messages and finished turns, and keeps what memory needs."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.engine import Engine

from storage.db import Database
from storage.migrate import migrate
from storage.models import (
    BotThread,
    Conversation,
    InboundMessage,
    Reply,
    ReplyStatus,
    Turn,
    TurnStatus,
    utcnow,
)
from storage.retention import prune


async def _seed_and_prune(url: str) -> int:
    db = Database(url)
    old, new = utcnow() - timedelta(days=10), utcnow()
    async with db.session() as session:
        conversation = Conversation(key="user:T/U1", assistant="default", backend="responses")
        session.add(conversation)
        session.add(BotThread(channel_id="C1", thread_ts="1.0", created_at=old))
        await session.flush()
        assert conversation.id is not None
        for when, status, name in ((old, TurnStatus.DONE, "old"), (new, TurnStatus.DONE, "new")):
            turn = Turn(
                key="user:T/U1",
                conversation_id=conversation.id,
                status=status,
                channel_id="D1",
                created_at=when,
                finished_at=when,
            )
            session.add(turn)
            await session.flush()
            session.add(
                InboundMessage(
                    key="user:T/U1",
                    team_id="T",
                    channel_id="D1",
                    user_id="U1",
                    message_ts=name,
                    text=name,
                    received_at=when,
                    turn_id=turn.id,
                )
            )
            session.add(
                Reply(
                    turn_id=turn.id or 0,
                    channel_id="D1",
                    markdown=name,
                    status=ReplyStatus.POSTED,
                    created_at=when,
                )
            )
        session.add(
            InboundMessage(
                key="user:T/U2",
                team_id="T",
                channel_id="D2",
                user_id="U2",
                message_ts="queued",
                text="still waiting",
                received_at=old,
            )
        )
    async with db.session() as session:
        pruned = await prune(session=session, before=utcnow() - timedelta(days=7))
    await db.close()
    return pruned


def test_prune_keeps_recent_work_queued_messages_and_memory(database_url: str, db: Engine) -> None:
    migrate(database_url)
    assert asyncio.run(_seed_and_prune(database_url)) == 1
    with db.connect() as connection:
        texts = sorted(connection.execute(text("SELECT text FROM inbound_message")).scalars())
        replies = sorted(connection.execute(text("SELECT markdown FROM reply")).scalars())
        turns = connection.execute(text("SELECT count(*) FROM turn")).scalar_one()
        kept = connection.execute(text("SELECT count(*) FROM conversation")).scalar_one()
        threads = connection.execute(text("SELECT count(*) FROM bot_thread")).scalar_one()
    assert texts == ["new", "still waiting"]
    assert replies == ["new"]
    assert (turns, kept, threads) == (1, 1, 1)
