"""Finish a turn: mark it done, move its conversation's watermark, put its reply in the outbox.

All three happen together or not at all. On SQLite they are three statements in the
session's transaction (local calls); on PostgreSQL they are one statement of data-modifying
CTEs, which is atomic on its own and so needs no BEGIN and COMMIT: one round trip where
the transaction took five (`python bench/storage_calls.py --database-url …`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    Text,
    bindparam,
    exists,
    func,
    insert,
    literal,
    null,
    true,
    update,
)
from sqlalchemy import select as core_select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import execute
from storage.models import Conversation, Reply, ReplyStatus, Turn, TurnStatus, utcnow
from storage.turns import HELD
from storage.upsert import dialect_of, table_of

_turns, _conversations, _replies = table_of(Turn), table_of(Conversation), table_of(Reply)
_DONE = (
    update(_turns)
    .where(HELD)
    .values(
        status=TurnStatus.DONE,
        outcome=bindparam("p_outcome"),
        polls=bindparam("p_polls"),
        finished_at=bindparam("p_now"),
        error=bindparam("p_error"),
        owner=None,
        lease_until=None,
        tool_state=None,
    )
)
_WATERMARK = (
    update(_conversations)
    .where(_conversations.c.id == bindparam("p_conversation_id"))
    .values(watermark=bindparam("p_watermark"))
)
_ADD_REPLIES = insert(_replies).returning(*_replies.c, sort_by_parameter_order=True)

# The reply columns that differ between parts, and those every part of a turn shares.
_PART_COLUMNS = ("seq", "markdown", "file_ref")


def _finish_in_one_statement() -> Any:
    """PostgreSQL: the three writes as one statement. The watermark and the parts are
    written only if the turn was still held (`done` returned its row)."""
    done = _DONE.returning(_turns.c.id).cte("done")
    watermark = (
        update(_conversations)
        .where(
            _conversations.c.id == bindparam("p_conversation_id"),
            bindparam("p_watermark", type_=String).is_not(None),
            exists(core_select(done.c.id)),
        )
        .values(watermark=bindparam("p_watermark", type_=String))
        .cte("watermark")
    )
    parts = (
        func.unnest(
            bindparam("p_seqs", type_=ARRAY(Integer)),
            bindparam("p_markdowns", type_=ARRAY(Text)),
            bindparam("p_file_refs", type_=ARRAY(Text)),
        )
        .table_valued(*_PART_COLUMNS)
        .render_derived(name="part")
    )
    now = bindparam("p_now", type_=_replies.c.created_at.type)
    shared: dict[str, Any] = {
        "turn_id": done.c.id,
        "channel_id": bindparam("p_channel_id", type_=String),
        "thread_ts": bindparam("p_thread_ts", type_=String),
        "status": literal(ReplyStatus.PENDING),
        "owner": bindparam("p_owner", type_=String),
        "lease_until": bindparam("p_lease_until", type_=_replies.c.lease_until.type),
        "attempts": literal(0),
        "sending_at": now,
        "next_attempt_at": now,
        "posted_ts": null(),
        "created_at": now,
        "error": null(),
    }
    columns = [*_PART_COLUMNS, *shared]
    values = [parts.c[name] for name in _PART_COLUMNS] + list(shared.values())
    rows = core_select(*values).select_from(done).join(parts, true())
    return pg_insert(_replies).from_select(columns, rows).returning(*_replies.c).add_cte(watermark)


_FINISH_PG = _finish_in_one_statement()


async def finish_turn(
    *,
    session: AsyncSession,
    turn: Turn,
    owner: str,
    outcome: str,
    parts: list[str],
    lease: timedelta,
    polls: int,
    error: str | None = None,
    watermark: str | None = None,
    files: list[str] | None = None,
) -> list[Reply]:
    """Mark the turn done and put its reply parts in the outbox, together (safe alone: may
    run in a `single` session).

    `parts` are the text parts; `files` (JSON references of files the assistant made)
    become parts after them. The parts come back leased to `owner` for `lease`,
    marked as being sent, in order. Empty if this process no longer held the turn: then
    whoever does will finish it.
    """
    assert turn.id is not None
    now = utcnow()
    lease_until = now + lease
    held = {"p_turn_id": turn.id, "p_owner": owner}
    done = {"p_outcome": outcome, "p_polls": polls, "p_now": now, "p_error": error}
    chosen = [(part, None) for part in parts] + [("", ref) for ref in files or []]
    if dialect_of(session) == "postgresql":
        result = await execute(
            session,
            _FINISH_PG,
            held
            | done
            | {
                "p_conversation_id": turn.conversation_id,
                "p_watermark": watermark,
                "p_seqs": list(range(len(chosen))),
                "p_markdowns": [markdown for markdown, _ in chosen],
                "p_file_refs": [file_ref for _, file_ref in chosen],
                "p_channel_id": turn.channel_id,
                "p_thread_ts": turn.thread_ts,
                "p_lease_until": lease_until,
            },
        )
        added = sorted(result.all(), key=lambda row: row.seq)
        return [Reply.model_validate(row._asdict()) for row in added]
    if not (await execute(session, _DONE, held | done)).rowcount:
        return []
    if watermark is not None:
        await execute(
            session,
            _WATERMARK,
            {"p_conversation_id": turn.conversation_id, "p_watermark": watermark},
        )
    rows = [
        {
            "turn_id": turn.id,
            "seq": seq,
            "channel_id": turn.channel_id,
            "thread_ts": turn.thread_ts,
            "markdown": markdown,
            "file_ref": file_ref,
            "status": ReplyStatus.PENDING,
            "owner": owner,
            "lease_until": lease_until,
            "attempts": 0,
            "sending_at": now,
            "next_attempt_at": now,
            "posted_ts": None,
            "created_at": now,
            "error": None,
        }
        for seq, (markdown, file_ref) in enumerate(chosen)
    ]
    if not rows:
        return []
    added = await execute(session, _ADD_REPLIES, rows)
    return [Reply.model_validate(row._asdict()) for row in added.all()]
