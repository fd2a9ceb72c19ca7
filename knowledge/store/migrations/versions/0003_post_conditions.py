"""post condition vectors and store metadata

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "postcondition",
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("condition_id", sa.String(length=64), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["post_id"], ["post.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("post_id", "condition_id"),
    )
    with op.batch_alter_table("postcondition", schema=None) as batch_op:
        batch_op.create_index("ix_postcondition_condition", ["condition_id", "post_id"])
    op.create_table(
        "storemeta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("storemeta")
    with op.batch_alter_table("postcondition", schema=None) as batch_op:
        batch_op.drop_index("ix_postcondition_condition")
    op.drop_table("postcondition")
