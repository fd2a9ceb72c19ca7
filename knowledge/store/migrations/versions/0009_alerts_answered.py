"""alerts that are answered: escalation target, escalated alerts, daily digests

An alert nobody claims in time is raised again once (`safetyalert.escalated_at`), to a second
channel or role a guild may set (`guildsafety.escalation_channel_id`, `escalation_role_id`), and
unclaimed alerts are listed once a day (`guildsafety.digest_sent_at`). All nullable: existing
rows need nothing.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("guildsafety") as batch:
        batch.add_column(sa.Column("escalation_channel_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("escalation_role_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("digest_sent_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("safetyalert") as batch:
        batch.add_column(sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("safetyalert") as batch:
        batch.drop_column("escalated_at")
    with op.batch_alter_table("guildsafety") as batch:
        batch.drop_column("digest_sent_at")
        batch.drop_column("escalation_role_id")
        batch.drop_column("escalation_channel_id")
