"""reports queue, "this helped" marks and insight counters: one row per reporter of a reported
message, moderators' resolutions, members' "this helped" marks, searches that found nothing by
condition and day (all new tables)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alertreport",
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["safetyalert.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("alert_id", "user_id"),
    )
    with op.batch_alter_table("alertreport", schema=None) as batch_op:
        batch_op.create_index(
            "ix_alertreport_guild_user_created",
            ["guild_id", "user_id", "created_at"],
            unique=False,
        )

    op.create_table(
        "alertresolution",
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("resolved_by", sa.BigInteger(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["safetyalert.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("alert_id"),
    )
    with op.batch_alter_table("alertresolution", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alertresolution_guild_id"), ["guild_id"], unique=False)

    op.create_table(
        "helpedmark",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=True),
        sa.Column("thread_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", "user_id", "external_id"),
    )
    with op.batch_alter_table("helpedmark", schema=None) as batch_op:
        batch_op.create_index(
            "ix_helpedmark_guild_external", ["guild_id", "external_id"], unique=False
        )

    op.create_table(
        "searchgap",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("day", sa.DateTime(timezone=True), nullable=False),
        sa.Column("condition_id", sa.String(length=64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", "day", "condition_id"),
    )


def downgrade() -> None:
    op.drop_table("searchgap")
    with op.batch_alter_table("helpedmark", schema=None) as batch_op:
        batch_op.drop_index("ix_helpedmark_guild_external")

    op.drop_table("helpedmark")
    with op.batch_alter_table("alertresolution", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alertresolution_guild_id"))

    op.drop_table("alertresolution")
    with op.batch_alter_table("alertreport", schema=None) as batch_op:
        batch_op.drop_index("ix_alertreport_guild_user_created")

    op.drop_table("alertreport")
