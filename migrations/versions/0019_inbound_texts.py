"""Each inbound text is acted on once, by its provider's MessageSid (SPEC §6: exactly one reply per keyword)

A replayed signed request (Twilio's retry, or the same request sent again) acted again: a START replayed after
a later STOP lifted it. Kept for 30 days, as finished deliveries are (the worker prunes them).

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30 17:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "inbound_texts",
        sa.Column("message_sid", sa.String(64), primary_key=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_inbound_texts_received_at", "inbound_texts", ["received_at"])


def downgrade():
    op.drop_index("ix_inbound_texts_received_at", table_name="inbound_texts")
    op.drop_table("inbound_texts")
