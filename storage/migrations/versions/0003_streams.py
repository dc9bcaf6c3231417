"""streams: a turn's Slack stream message, a Stop pressed early, the part with feedback buttons

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("turn", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stream_ts", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("stream_thread_ts", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("stop_requested", sa.Boolean(), nullable=False, server_default=sa.false())
        )

    with op.batch_alter_table("reply", schema=None) as batch_op:
        batch_op.add_column(sa.Column("feedback", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reply", schema=None) as batch_op:
        batch_op.drop_column("feedback")

    with op.batch_alter_table("turn", schema=None) as batch_op:
        batch_op.drop_column("stop_requested")
        batch_op.drop_column("stream_thread_ts")
        batch_op.drop_column("stream_ts")
