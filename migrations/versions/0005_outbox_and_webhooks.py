"""The outbox, webhook endpoints and their deliveries (SPEC §12, §13)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 22:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BigIntPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Moment = sa.DateTime(timezone=True)


def upgrade():
    op.create_table(
        "outbox",
        sa.Column("id", BigIntPK, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=True),
        sa.Column("ordering_key", sa.String(128), nullable=False),
        sa.Column("payload", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("created_at", Moment, nullable=False),
    )
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.String(200), nullable=True),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("previous_secret", sa.String(100), nullable=True),
        sa.Column("previous_secret_until", Moment, nullable=True),
        sa.Column("failing_since", Moment, nullable=True),
        sa.Column("created_at", Moment, nullable=False),
        sa.Column("updated_at", Moment, nullable=False),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", BigIntPK, primary_key=True),
        sa.Column("endpoint_id", sa.Integer(), sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=True),
        sa.Column("ordering_key", sa.String(128), nullable=False),
        sa.Column("payload", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("occurred_at", Moment, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", Moment, nullable=False),
        sa.Column("created_at", Moment, nullable=False),
        sa.Column("delivered_at", Moment, nullable=True),
    )
    # Partial: the worker's claim reads only pending rows, however much delivered history the table holds.
    pending = sa.text("status = 'pending'")
    op.create_index("ix_deliveries_pending", "deliveries", ["id"], postgresql_where=pending, sqlite_where=pending)
    op.create_index(
        "ix_deliveries_pending_order",
        "deliveries",
        ["endpoint_id", "ordering_key", "id"],
        postgresql_where=pending,
        sqlite_where=pending,
    )
    op.create_index("ix_deliveries_endpoint_id", "deliveries", ["endpoint_id", "id"])
    op.create_table(
        "delivery_attempts",
        sa.Column("id", BigIntPK, primary_key=True),
        sa.Column("delivery_id", sa.BigInteger(), sa.ForeignKey("deliveries.id", ondelete="CASCADE"), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False),
        sa.Column("at", Moment, nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(300), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
    )
    op.create_index("ix_delivery_attempts_delivery_id", "delivery_attempts", ["delivery_id"])
    op.create_index("ix_delivery_attempts_endpoint_id", "delivery_attempts", ["endpoint_id", "id"])


def downgrade():
    op.drop_table("delivery_attempts")
    op.drop_table("deliveries")
    op.drop_table("webhook_endpoints")
    op.drop_table("outbox")
