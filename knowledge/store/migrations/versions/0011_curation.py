"""curation: knowledge base entries, hidden messages, moderators' audit (all new tables)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "knowledgeentry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("question", sa.String(), nullable=False),
        sa.Column("answer", sa.String(), nullable=False),
        sa.Column("conditions", sa.String(), nullable=False),
        sa.Column("source_channel_id", sa.BigInteger(), nullable=False),
        sa.Column("source_external_id", sa.String(length=128), nullable=True),
        sa.Column("source_author_id", sa.BigInteger(), nullable=True),
        sa.Column("quote", sa.String(), nullable=True),
        sa.Column("credit", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("updated_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("knowledgeentry", schema=None) as batch_op:
        batch_op.create_index(
            "ix_knowledgeentry_guild_source", ["guild_id", "source_author_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_knowledgeentry_guild_id"), ["guild_id"], unique=False)

    op.create_table(
        "hiddenmessage",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("hidden_by", sa.BigInteger(), nullable=True),
        sa.Column("hidden_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", "external_id"),
    )
    op.create_table(
        "modaction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=128), nullable=False),
        sa.Column("done_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("modaction", schema=None) as batch_op:
        batch_op.create_index(
            "ix_modaction_guild_created", ["guild_id", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("modaction", schema=None) as batch_op:
        batch_op.drop_index("ix_modaction_guild_created")

    op.drop_table("modaction")
    op.drop_table("hiddenmessage")
    with op.batch_alter_table("knowledgeentry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_knowledgeentry_guild_id"))
        batch_op.drop_index("ix_knowledgeentry_guild_source")

    op.drop_table("knowledgeentry")
