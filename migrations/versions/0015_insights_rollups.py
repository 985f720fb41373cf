"""Insights roll-ups (issue 19)

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 08:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


MEASURES = ("opt_outs", "opt_ins", "suppressions", "bounces", "complaints")


def _measures():
    return [sa.Column(name, sa.BigInteger(), nullable=False, server_default="0") for name in MEASURES]


def upgrade():
    # Counts per UTC day, topic, channel, via and message id ('' for none: a unique key never matches NULLs) at
    # level "all", and per day and one of them at the level named after it. The primary key starts with the
    # level and the day, so a range of days at one level is one index range.
    op.create_table(
        "insight_daily",
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("via", sa.String(64), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=False),
        *_measures(),
        sa.PrimaryKeyConstraint("level", "day", "topic", "channel", "via", "message_id", name="pk_insight_daily"),
    )
    # Counts that are no consent event (a suppression added, a bounce or complaint reported), appended by the
    # transaction that made them and folded in by the worker.
    op.create_table(
        "insight_pending",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("measure", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("via", sa.String(64), nullable=False),
    )
    op.create_table(
        "insight_active",
        sa.Column("channel", sa.String(8), primary_key=True),
        sa.Column("recipients", sa.BigInteger(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    )
    state = op.create_table(
        "insight_state",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.BigInteger(), nullable=False),
    )
    # Nothing folded yet: the worker's first rounds fold every existing event (services/insights.py).
    names = ("events", "pending", "active_events", "active_pending")
    op.bulk_insert(state, [{"name": name, "value": 0} for name in names])


def downgrade():
    op.drop_table("insight_state")
    op.drop_table("insight_active")
    op.drop_table("insight_pending")
    op.drop_table("insight_daily")
