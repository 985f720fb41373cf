"""Suppression sync to mail providers (SPEC §15, outbound): one row per push to a target, its receipt

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BigIntPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Moment = sa.DateTime(timezone=True)


def upgrade():
    op.create_table(
        "provider_syncs",
        sa.Column("id", BigIntPK, primary_key=True),
        sa.Column("target", sa.String(16), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("address_hash", sa.String(64), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("recipient_id", sa.String(128), nullable=True),
        sa.Column("reported_here", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(300), nullable=True),
        sa.Column("next_attempt_at", Moment, nullable=False),
        sa.Column("created_at", Moment, nullable=False),
        sa.Column("updated_at", Moment, nullable=False),
    )
    # Partial, like the deliveries': the claim reads only pending rows, however long the receipts' history.
    pending = sa.text("status = 'pending'")
    op.create_index("ix_provider_syncs_pending", "provider_syncs", ["id"], postgresql_where=pending, sqlite_where=pending)
    op.create_index(
        "ix_provider_syncs_pending_order",
        "provider_syncs",
        ["target", "address_hash", "id"],
        postgresql_where=pending,
        sqlite_where=pending,
    )
    op.create_index("ix_provider_syncs_recipient", "provider_syncs", ["recipient_id", "target", "id"])


def downgrade():
    op.drop_index("ix_provider_syncs_recipient", table_name="provider_syncs")
    op.drop_index("ix_provider_syncs_pending_order", table_name="provider_syncs")
    op.drop_index("ix_provider_syncs_pending", table_name="provider_syncs")
    op.drop_table("provider_syncs")
