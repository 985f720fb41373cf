"""Mail-provider events (SPEC §15): undeliverable addresses and the providers' own event ids

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Moment = sa.DateTime(timezone=True)


def upgrade():
    # Keyed by the address's hash (the one recipients.email_hash and suppressions hold): the check's state
    # query joins it on the primary key.
    op.create_table(
        "undeliverable_addresses",
        sa.Column("hash", sa.String(64), primary_key=True),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("code", sa.String(32), nullable=True),
        sa.Column("reported_at", Moment, nullable=False),
    )
    # One row per event a provider reported, under its own id: a replay finds it and changes nothing.
    op.create_table(
        "provider_events",
        sa.Column("provider", sa.String(16), primary_key=True),
        sa.Column("event_id", sa.String(128), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("address_hash", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("received_at", Moment, nullable=False),
    )
    op.create_index("ix_provider_events_address_hash", "provider_events", ["address_hash"])


def downgrade():
    op.drop_index("ix_provider_events_address_hash", table_name="provider_events")
    op.drop_table("provider_events")
    op.drop_table("undeliverable_addresses")
