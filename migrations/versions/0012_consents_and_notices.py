"""Opt-in and proof of consent (SPEC §14): notices and their versions, pending and recorded consents

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 05:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

BigIntPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    with op.batch_alter_table("topics") as batch:
        # single: an opt-in is stored at once; double: by email, once the person confirms the mailed link.
        batch.add_column(sa.Column("confirmation", sa.String(8), nullable=False, server_default="single"))
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(35), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(320), nullable=True),
        sa.UniqueConstraint("key", "version", name="uq_notices_key_version"),
    )
    op.create_table(
        "consent_requests",
        sa.Column("id", BigIntPK, primary_key=True),
        sa.Column("recipient_id", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("address_hash", sa.String(64), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.Column("language", sa.String(35), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_consent_requests_recipient_id", "consent_requests", ["recipient_id", "id"])


def downgrade():
    op.drop_index("ix_consent_requests_recipient_id", table_name="consent_requests")
    op.drop_table("consent_requests")
    op.drop_table("notices")
    with op.batch_alter_table("topics") as batch:
        batch.drop_column("confirmation")
