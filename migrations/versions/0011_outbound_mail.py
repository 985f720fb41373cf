"""Outbound email (SPEC §14): what the mail sender keeps, one row per message (services/mail_delivery.py)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 05:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BigIntPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Moment = sa.DateTime(timezone=True)


def upgrade():
    op.create_table(
        "outbound_mails",
        sa.Column("id", BigIntPK, primary_key=True),
        sa.Column("template", sa.String(64), nullable=False),
        sa.Column("ordering_key", sa.String(128), nullable=False),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(300), nullable=True),
        sa.Column("next_attempt_at", Moment, nullable=False),
        sa.Column("created_at", Moment, nullable=False),
        sa.Column("updated_at", Moment, nullable=False),
    )
    # Partial, like the deliveries': the claim reads only pending rows, however long the receipts' history.
    pending = sa.text("status = 'pending'")
    op.create_index("ix_outbound_mails_pending", "outbound_mails", ["id"], postgresql_where=pending, sqlite_where=pending)
    op.create_index(
        "ix_outbound_mails_pending_order",
        "outbound_mails",
        ["ordering_key", "id"],
        postgresql_where=pending,
        sqlite_where=pending,
    )


def downgrade():
    op.drop_index("ix_outbound_mails_pending_order", table_name="outbound_mails")
    op.drop_index("ix_outbound_mails_pending", table_name="outbound_mails")
    op.drop_table("outbound_mails")
