"""Hosted subscribe forms (SPEC §14)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 05:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    # A form an admin defines, shown at /s/<key>: its topics (by email, always confirmed by the person), the
    # notice whose current wording it shows and names in the evidence, its title and thank-you text.
    op.create_table(
        "subscribe_forms",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False, server_default="email"),
        sa.Column("notice", sa.String(64), nullable=False),
        sa.Column("thanks", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(320), nullable=True),
        sa.UniqueConstraint("key", name="uq_subscribe_forms_key"),
    )


def downgrade():
    op.drop_table("subscribe_forms")
