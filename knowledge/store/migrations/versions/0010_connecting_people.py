"""connecting people: suggestion channels, questions, suggestions and feedback, helper requests,
profiles with declared conditions, introductions and blocks (all new tables)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "introduction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("requester_id", sa.BigInteger(), nullable=False),
        sa.Column("target_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("conditions", sa.String(), nullable=False),
        sa.Column("prompt_message_id", sa.BigInteger(), nullable=True),
        sa.Column("thread_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("prompted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("introduction", schema=None) as batch_op:
        batch_op.create_index(
            "ix_introduction_guild_requester", ["guild_id", "requester_id"], unique=False
        )
        batch_op.create_index(
            "ix_introduction_guild_target", ["guild_id", "target_id"], unique=False
        )

    op.create_table(
        "guildmatching",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("introductions_enabled", sa.Boolean(), nullable=False),
        sa.Column("thread_channel_id", sa.BigInteger(), nullable=True),
        sa.Column("updated_by", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("guild_id"),
    )
    op.create_table(
        "matchcard",
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("batch", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("target_id", sa.BigInteger(), nullable=False),
        sa.Column("conditions", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token"),
    )
    with op.batch_alter_table("matchcard", schema=None) as batch_op:
        batch_op.create_index("ix_matchcard_batch", ["batch", "position"], unique=False)

    op.create_table(
        "memberblock",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("blocked_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", "user_id", "blocked_id"),
    )
    op.create_table(
        "memberprofile",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("sample_post_id", sa.Integer(), nullable=True),
        sa.Column("use_inferred", sa.Boolean(), nullable=False),
        sa.Column("helper", sa.Boolean(), nullable=False),
        sa.Column("quiet_start_hour", sa.Integer(), nullable=True),
        sa.Column("quiet_end_hour", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", "user_id"),
    )
    op.create_table(
        "profilecondition",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("condition_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("helps", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", "user_id", "condition_id"),
    )
    op.create_table(
        "question",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("thread_id", sa.BigInteger(), nullable=True),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("conditions", sa.String(), nullable=False),
        sa.Column("crisis", sa.Boolean(), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_reply_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("routed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("helpers_asked", sa.Integer(), nullable=False),
        sa.Column("solved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("solved_by", sa.BigInteger(), nullable=True),
        sa.Column("solution_message_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("guild_id", "external_id", name="uq_question_guild_external"),
    )
    with op.batch_alter_table("question", schema=None) as batch_op:
        batch_op.create_index("ix_question_guild_asked", ["guild_id", "asked_at"], unique=False)

    op.create_table(
        "suggestion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("thread_id", sa.BigInteger(), nullable=True),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("reply_message_id", sa.BigInteger(), nullable=True),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("hidden_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("guild_id", "external_id", name="uq_suggestion_guild_external"),
    )
    op.create_table(
        "suggestionchannel",
        sa.Column("channel_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("enabled_by", sa.BigInteger(), nullable=True),
        sa.Column("enabled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel_id"),
    )
    with op.batch_alter_table("suggestionchannel", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_suggestionchannel_guild_id"), ["guild_id"], unique=False
        )

    op.create_table(
        "helperrequest",
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["question_id"], ["question.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("question_id", "user_id"),
    )
    with op.batch_alter_table("helperrequest", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_helperrequest_guild_id"), ["guild_id"], unique=False)

    op.create_table(
        "suggestionfeedback",
        sa.Column("suggestion_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["suggestion_id"], ["suggestion.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("suggestion_id", "user_id"),
    )
    with op.batch_alter_table("suggestionfeedback", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_suggestionfeedback_guild_id"), ["guild_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("suggestionfeedback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_suggestionfeedback_guild_id"))

    op.drop_table("suggestionfeedback")
    with op.batch_alter_table("helperrequest", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_helperrequest_guild_id"))

    op.drop_table("helperrequest")
    with op.batch_alter_table("suggestionchannel", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_suggestionchannel_guild_id"))

    op.drop_table("suggestionchannel")
    op.drop_table("suggestion")
    with op.batch_alter_table("question", schema=None) as batch_op:
        batch_op.drop_index("ix_question_guild_asked")

    op.drop_table("question")
    op.drop_table("profilecondition")
    op.drop_table("memberprofile")
    op.drop_table("memberblock")
    with op.batch_alter_table("matchcard", schema=None) as batch_op:
        batch_op.drop_index("ix_matchcard_batch")

    op.drop_table("matchcard")
    op.drop_table("guildmatching")
    with op.batch_alter_table("introduction", schema=None) as batch_op:
        batch_op.drop_index("ix_introduction_guild_target")
        batch_op.drop_index("ix_introduction_guild_requester")

    op.drop_table("introduction")
