"""tools and files: attached files, tool-call state, status message, file replies

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 11:55:25.999751
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("files", sa.Text(), nullable=True))

    with op.batch_alter_table("reply", schema=None) as batch_op:
        batch_op.add_column(sa.Column("file_ref", sa.Text(), nullable=True))

    with op.batch_alter_table("turn", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tool_state", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("tool_rounds", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("status_ts", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("turn", schema=None) as batch_op:
        batch_op.drop_column("status_ts")
        batch_op.drop_column("tool_rounds")
        batch_op.drop_column("tool_state")

    with op.batch_alter_table("reply", schema=None) as batch_op:
        batch_op.drop_column("file_ref")

    with op.batch_alter_table("inbound_message", schema=None) as batch_op:
        batch_op.drop_column("files")
