"""Insights: who may get marketing on each channel, kept per day, for the opt-out rate over time (issue 19)

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    # The day's last count of insight_active per channel (UTC day), written by the same count.
    op.create_table(
        "insight_active_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("recipients", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "channel", name="pk_insight_active_daily"),
    )


def downgrade():
    op.drop_table("insight_active_daily")
