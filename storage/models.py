"""All tables of the bridge, in one place."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, Index, String, Text, UniqueConstraint, false, text
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Aware UTC, which SQLModel's datetime columns require."""
    return datetime.now(UTC)


class TurnStatus:
    """Where a turn is: created but not yet started at OpenAI, running, or finished."""

    STARTING = "starting"
    RUNNING = "running"
    DONE = "done"


class ReplyStatus:
    """Where a reply part is on its way to Slack."""

    PENDING = "pending"
    POSTED = "posted"
    FAILED = "failed"


class Conversation(SQLModel, table=True):
    """One key's conversation with one assistant (Responses `conv_…` / Assistants `thread_…`).

    `retired_at` is set by a reset; the row stays, as the record of the old conversation.
    """

    __table_args__ = (
        Index(
            "uq_conversation_current",
            "key",
            "assistant",
            unique=True,
            sqlite_where=text("retired_at IS NULL"),
            postgresql_where=text("retired_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_column=Column(String(255), nullable=False, index=True))
    assistant: str = Field(sa_column=Column(String(100), nullable=False))
    backend: str = Field(sa_column=Column(String(20), nullable=False))
    openai_id: str | None = Field(default=None, sa_column=Column(String(100)))
    # The last thing the previous turn added (output item or run id): recovery looks past it.
    watermark: str | None = Field(default=None, sa_column=Column(String(100)))
    created_at: datetime = Field(default_factory=utcnow)
    retired_at: datetime | None = None


class InboundMessage(SQLModel, table=True):
    """A Slack message accepted for the assistant: the durable queue, one row per Slack message."""

    __tablename__ = "inbound_message"
    # Slack retries and a mention delivered both as `app_mention` and as a channel message
    # carry the same channel and ts: the constraint makes them one row.
    __table_args__ = (UniqueConstraint("channel_id", "message_ts", name="uq_inbound_message"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_column=Column(String(255), nullable=False, index=True))
    team_id: str = Field(sa_column=Column(String(32), nullable=False))
    channel_id: str = Field(sa_column=Column(String(32), nullable=False))
    user_id: str = Field(sa_column=Column(String(32), nullable=False))
    message_ts: str = Field(sa_column=Column(String(32), nullable=False))
    reply_thread_ts: str | None = Field(default=None, sa_column=Column(String(32)))
    event_id: str | None = Field(default=None, sa_column=Column(String(64)))
    text: str = Field(sa_column=Column(Text, nullable=False))
    # The files the user attached that the assistant can take (JSON list of
    # `bot.file_rules.SlackFile`), each with its OpenAI file id once uploaded.
    files: str | None = Field(default=None, sa_column=Column(Text))
    received_at: datetime = Field(default_factory=utcnow)
    turn_id: int | None = Field(default=None, index=True)


class AssistantChoice(SQLModel, table=True):
    """Which assistant a key uses, chosen with `/assistant use` (no row: the default)."""

    __tablename__ = "assistant_choice"

    key: str = Field(sa_column=Column(String(255), primary_key=True))
    assistant: str = Field(sa_column=Column(String(100), nullable=False))
    chosen_by: str = Field(sa_column=Column(String(32), nullable=False))
    chosen_at: datetime = Field(default_factory=utcnow)


class BotThread(SQLModel, table=True):
    """A Slack thread the bridge answers in: later messages there need no mention."""

    __tablename__ = "bot_thread"

    channel_id: str = Field(sa_column=Column(String(32), primary_key=True))
    thread_ts: str = Field(sa_column=Column(String(32), primary_key=True))
    created_at: datetime = Field(default_factory=utcnow)


class Turn(SQLModel, table=True):
    """One run of the assistant over the messages queued for a conversation.

    At most one unfinished turn per conversation: the API refuses a second one
    (400 `conversation_locked` / "Can't add messages … while a run … is active").
    """

    __table_args__ = (
        Index(
            "uq_turn_open",
            "conversation_id",
            unique=True,
            sqlite_where=text("status <> 'done'"),
            postgresql_where=text("status <> 'done'"),
        ),
        Index("ix_turn_due", "status", "next_poll_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_column=Column(String(255), nullable=False, index=True))
    conversation_id: int = Field(foreign_key="conversation.id")
    status: str = Field(default=TurnStatus.STARTING, sa_column=Column(String(20), nullable=False))
    outcome: str | None = Field(default=None, sa_column=Column(String(40)))
    run_id: str | None = Field(default=None, sa_column=Column(String(100)))
    channel_id: str = Field(sa_column=Column(String(32), nullable=False))
    thread_ts: str | None = Field(default=None, sa_column=Column(String(32)))
    owner: str | None = Field(default=None, sa_column=Column(String(100)))
    lease_until: datetime | None = None
    next_poll_at: datetime | None = None
    polls: int = 0
    attempts: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = Field(default=None, sa_column=Column(Text))
    # The run asked for function calls: the calls and their outputs (JSON, see
    # `bot.turns.tool_round`), kept until the outputs are known to have reached OpenAI, so a
    # restart sends them without running the functions again.
    tool_state: str | None = Field(default=None, sa_column=Column(Text))
    tool_rounds: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # The "running code…" message shown while hosted tools work; deleted with the answer.
    status_ts: str | None = Field(default=None, sa_column=Column(String(32)))
    # The answer streamed into Slack (`chat.startStream`): the stream message's ts and its
    # thread, recorded before anything relies on them, so whoever delivers the reply ends
    # that message (stop, then the final text) instead of posting the answer twice.
    stream_ts: str | None = Field(default=None, sa_column=Column(String(32)))
    stream_thread_ts: str | None = Field(default=None, sa_column=Column(String(32)))
    # Someone pressed Stop (`agent_session_stopped`) before the run's id was known: cancel
    # it at OpenAI as soon as it exists.
    stop_requested: bool = Field(default=False, sa_column_kwargs={"server_default": false()})


class Reply(SQLModel, table=True):
    """One Slack message to post for a turn: the outbox. A long answer is several parts."""

    __table_args__ = (
        UniqueConstraint("turn_id", "seq", name="uq_reply_part"),
        Index("ix_reply_pending", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    turn_id: int = Field(foreign_key="turn.id")
    seq: int = 0
    channel_id: str = Field(sa_column=Column(String(32), nullable=False))
    thread_ts: str | None = Field(default=None, sa_column=Column(String(32)))
    markdown: str = Field(sa_column=Column(Text, nullable=False))
    # A file the assistant made, to upload instead of posting text (JSON of
    # `bot.backends.citations.GeneratedFile`).
    file_ref: str | None = Field(default=None, sa_column=Column(Text))
    status: str = Field(default=ReplyStatus.PENDING, sa_column=Column(String(20), nullable=False))
    owner: str | None = Field(default=None, sa_column=Column(String(100)))
    lease_until: datetime | None = None
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    # Set just before each chat.postMessage: if it is set on a part not marked posted, the
    # post may have reached Slack, so Slack is asked (by the reply's metadata) before posting.
    sending_at: datetime | None = None
    posted_ts: str | None = Field(default=None, sa_column=Column(String(32)))
    # The assistant whose answer this part ends: it carries the feedback buttons.
    feedback: str | None = Field(default=None, sa_column=Column(String(100)))
    created_at: datetime = Field(default_factory=utcnow)
    error: str | None = Field(default=None, sa_column=Column(Text))


class Feedback(SQLModel, table=True):
    """One person's 👍/👎 on one answer (a Slack message): the latest press counts.

    No foreign key to `turn`: turns are pruned after RETENTION_DAYS, feedback is kept; the
    assistant is stored with the vote (the button's value names it) for the same reason.
    """

    __table_args__ = (
        UniqueConstraint("team_id", "channel_id", "message_ts", "user_id", name="uq_feedback"),
        Index("ix_feedback_voted_at", "voted_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(sa_column=Column(String(32), nullable=False))
    channel_id: str = Field(sa_column=Column(String(32), nullable=False))
    message_ts: str = Field(sa_column=Column(String(32), nullable=False))
    thread_ts: str | None = Field(default=None, sa_column=Column(String(32)))
    user_id: str = Field(sa_column=Column(String(32), nullable=False))
    vote: str = Field(sa_column=Column(String(8), nullable=False))  # "up" | "down"
    turn_id: int | None = None
    assistant: str = Field(sa_column=Column(String(100), nullable=False))
    voted_at: datetime = Field(default_factory=utcnow)


class UsageRecord(SQLModel, table=True):
    """What one OpenAI response or run of a turn used, as the API reported it.

    One row per run id (`uq_usage_run`): recording it again changes nothing. No foreign
    key to `turn`: turns are pruned, usage is kept. The indexes serve budgets: "this user's
    (channel's, assistant's) tokens since the start of the day" is one range scan of
    `ix_usage_user` (`ix_usage_channel`, `ix_usage_assistant`) ending in `recorded_at`.
    """

    __tablename__ = "usage_record"
    __table_args__ = (
        UniqueConstraint("run_id", name="uq_usage_run"),
        Index("ix_usage_user", "team_id", "user_id", "recorded_at"),
        Index("ix_usage_channel", "team_id", "channel_id", "recorded_at"),
        Index("ix_usage_assistant", "assistant", "recorded_at"),
        Index("ix_usage_recorded_at", "recorded_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(sa_column=Column(String(100), nullable=False))
    turn_id: int | None = None
    team_id: str = Field(sa_column=Column(String(32), nullable=False))
    channel_id: str = Field(sa_column=Column(String(32), nullable=False))
    user_id: str = Field(sa_column=Column(String(32), nullable=False))
    key: str = Field(sa_column=Column(String(255), nullable=False))
    assistant: str = Field(sa_column=Column(String(100), nullable=False))
    backend: str = Field(sa_column=Column(String(20), nullable=False))
    model: str = Field(sa_column=Column(String(100), nullable=False))
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    tool_calls: int = 0
    recorded_at: datetime = Field(default_factory=utcnow)


class SavedAgent(SQLModel, table=True):
    """The OpenAI saved agent (Agents API) the bridge made for a `kind = "agent"` assistant.

    Keyed by the assistant's name. `creation_token` is written before an `agents.create` and
    sent as the agent's metadata: an agent created by a process that died before recording
    it is found by that token and adopted, never created twice. `agent_id` is NULL until the
    first create is recorded.
    """

    __tablename__ = "saved_agent"

    assistant: str = Field(sa_column=Column(String(100), primary_key=True))
    agent_id: str | None = Field(default=None, sa_column=Column(String(100)))
    definition_hash: str | None = Field(default=None, sa_column=Column(String(64)))
    creation_token: str | None = Field(default=None, sa_column=Column(String(64)))
    updated_at: datetime = Field(default_factory=utcnow)
