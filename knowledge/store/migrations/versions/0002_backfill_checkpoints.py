"""backfill checkpoints

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "backfillcheckpoint",
        sa.Column("source_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("latest_id", sa.BigInteger(), nullable=False),
        sa.Column("fetched", sa.Integer(), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source_id"),
    )
    with op.batch_alter_table("backfillcheckpoint", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_backfillcheckpoint_guild_id"), ["guild_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_backfillcheckpoint_channel_id"), ["channel_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("backfillcheckpoint", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_backfillcheckpoint_channel_id"))
        batch_op.drop_index(batch_op.f("ix_backfillcheckpoint_guild_id"))
    op.drop_table("backfillcheckpoint")
