"""Finish a turn: mark it done, move its conversation's watermark, put its reply in the outbox.

What the three writes are is defined once (`_DONE`, `_WATERMARK`, `_reply_part`) and rendered
per dialect; all three happen together or not at all. On SQLite they are three statements in
the session's transaction (local calls); on PostgreSQL they are one statement of
data-modifying CTEs, which is atomic on its own and so needs no BEGIN and COMMIT: one round
trip where the transaction took five (`python bench/storage_calls.py --database-url …`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    Text,
    bindparam,
    case,
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
from storage.models import Conversation, Reply, ReplyStatus, Turn, TurnStatus, UsageRecord, utcnow
from storage.turns import HELD
from storage.upsert import dialect_of, table_of
from storage.usage import record_usage, usage_values

_turns, _conversations, _replies = table_of(Turn), table_of(Conversation), table_of(Reply)
_usage = table_of(UsageRecord)

# The turn, done, if this process still holds it.
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
# The conversation's watermark, if the run gave one.
_WATERMARK = (
    update(_conversations)
    .where(
        _conversations.c.id == bindparam("p_conversation_id"),
        bindparam("p_watermark", type_=String).is_not(None),
    )
    .values(watermark=bindparam("p_watermark", type_=String))
)


def _reply_part(
    turn_id: ColumnElement[Any],
    seq: ColumnElement[Any],
    markdown: ColumnElement[Any],
    file_ref: ColumnElement[Any],
) -> dict[str, ColumnElement[Any]]:
    """A reply part's row: its own place and content, and what every part of the turn shares
    (pending, leased to `p_owner`, marked as being sent). The part at `p_feedback_seq` ends
    the answer: it carries the feedback buttons of assistant `p_feedback`."""
    now = bindparam("p_now", type_=_replies.c.created_at.type)
    ends_answer = seq == bindparam("p_feedback_seq", type_=Integer)
    return {
        "turn_id": turn_id,
        "seq": seq,
        "markdown": markdown,
        "file_ref": file_ref,
        "feedback": case((ends_answer, bindparam("p_feedback", type_=String)), else_=null()),
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


# SQLite: the parts as one INSERT of several rows (one parameter set per part).
_ADD_PARTS = (
    insert(_replies)
    .values(
        _reply_part(
            bindparam("p_turn_id"),
            bindparam("p_seq"),
            bindparam("p_markdown"),
            bindparam("p_file_ref"),
        )
    )
    .returning(*_replies.c)
)


def _usage_of_done(done: Any) -> Any:
    """PostgreSQL: the final run's usage record (`p_usage_…`), inserted if the turn was
    still held; a record of the same run already there is kept (`uq_usage_run`)."""
    names = [column.name for column in _usage.c if column.name != "id"]
    values = [bindparam(f"p_usage_{name}", type_=_usage.c[name].type) for name in names]
    return (
        pg_insert(_usage)
        .from_select(names, core_select(*values).select_from(done))
        .on_conflict_do_nothing(index_elements=["run_id"])
        .returning(_usage.c.id)
        .cte("usage")
    )


def _finish_in_one_statement(*, with_usage: bool = False) -> Any:
    """PostgreSQL: the three writes (four, with the final run's usage) as one statement.
    The watermark, the parts and the usage are written only if the turn was still held
    (`done` returned its row); data-modifying CTEs run whether or not the main query
    reads them (PostgreSQL manual, "Data-Modifying Statements in WITH")."""
    done = _DONE.returning(_turns.c.id).cte("done")
    watermark = _WATERMARK.where(exists(core_select(done.c.id))).cte("watermark")
    parts = (
        func.unnest(
            bindparam("p_seqs", type_=ARRAY(Integer)),
            bindparam("p_markdowns", type_=ARRAY(Text)),
            bindparam("p_file_refs", type_=ARRAY(Text)),
        )
        .table_valued("seq", "markdown", "file_ref")
        .render_derived(name="part")
    )
    row = _reply_part(done.c.id, parts.c.seq, parts.c.markdown, parts.c.file_ref)
    rows = core_select(*row.values()).select_from(done).join(parts, true())
    statement = (
        pg_insert(_replies).from_select(list(row), rows).returning(*_replies.c).add_cte(watermark)
    )
    return statement.add_cte(_usage_of_done(done)) if with_usage else statement


_FINISH_PG = _finish_in_one_statement()
_FINISH_PG_USAGE = _finish_in_one_statement(with_usage=True)


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
    feedback: str | None = None,
    usage: UsageRecord | None = None,
) -> list[Reply]:
    """Mark the turn done and put its reply parts in the outbox, together (safe alone: may
    run in a `single` session).

    `parts` are the text parts; `files` (JSON references of files the assistant made)
    become parts after them. The parts come back leased to `owner` for `lease`,
    marked as being sent, in order. Empty if this process no longer held the turn: then
    whoever does will finish it. `feedback`: the assistant whose answer this is; its last
    text part carries the feedback buttons. The parts go where the answer streamed, if it
    did (its Slack thread), else to the turn's thread. `usage`: the final run's usage,
    recorded with the rest (in the same statement on PostgreSQL).
    """
    assert turn.id is not None
    now = utcnow()
    finish = {
        "p_turn_id": turn.id,
        "p_owner": owner,
        "p_outcome": outcome,
        "p_polls": polls,
        "p_now": now,
        "p_error": error,
        "p_conversation_id": turn.conversation_id,
        "p_watermark": watermark,
        "p_channel_id": turn.channel_id,
        "p_thread_ts": turn.stream_thread_ts or turn.thread_ts,
        "p_feedback": feedback,
        "p_feedback_seq": len(parts) - 1 if feedback and parts else -1,
        "p_lease_until": now + lease,
    }
    contents = [(part, None) for part in parts] + [("", ref) for ref in files or []]
    if dialect_of(session) == "postgresql":
        columns = {
            "p_seqs": list(range(len(contents))),
            "p_markdowns": [markdown for markdown, _ in contents],
            "p_file_refs": [file_ref for _, file_ref in contents],
        }
        if usage is not None:
            columns |= {f"p_usage_{name}": value for name, value in usage_values(usage).items()}
        statement = _FINISH_PG if usage is None else _FINISH_PG_USAGE
        added = (await execute(session, statement, finish | columns)).all()
    elif not (await execute(session, _DONE, finish)).rowcount:
        added = []
    else:
        await execute(session, _WATERMARK, finish)
        if usage is not None:
            await record_usage(session=session, record=usage)
        each = [
            finish | {"p_seq": seq, "p_markdown": markdown, "p_file_ref": file_ref}
            for seq, (markdown, file_ref) in enumerate(contents)
        ]
        added = (await execute(session, _ADD_PARTS, each)).all() if each else []
    return [Reply.model_validate(row._asdict()) for row in sorted(added, key=lambda r: r.seq)]
