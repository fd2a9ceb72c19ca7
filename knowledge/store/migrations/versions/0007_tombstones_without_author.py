"""tombstones keep message ids only: drop posttombstone.author_id

After a member's delete no row may name them; a tombstone only has to stop a backfill from
storing the message again, for which its guild and message id suffice.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("posttombstone", schema=None) as batch_op:
        batch_op.drop_column("author_id")


def downgrade() -> None:
    with op.batch_alter_table("posttombstone", schema=None) as batch_op:
        batch_op.add_column(sa.Column("author_id", sa.BigInteger(), nullable=True))
