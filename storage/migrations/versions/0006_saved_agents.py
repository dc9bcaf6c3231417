"""saved agents: the Agents API agent each `kind = "agent"` assistant is synced to

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "saved_agent",
        sa.Column("assistant", sa.String(length=100), nullable=False),
        sa.Column("agent_id", sa.String(length=100), nullable=True),
        sa.Column("definition_hash", sa.String(length=64), nullable=True),
        sa.Column("creation_token", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("assistant"),
    )


def downgrade() -> None:
    op.drop_table("saved_agent")
