"""A Mailgun signature vouches for the event it first came with only (SPEC §15)

Mailgun signs a timestamp and a token, not the event: within its five minutes a captured signature could carry
any other event (a complaint for any address). Each token is remembered with a digest of its event, a day long
(the worker prunes older ones), and refused with another event.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30 20:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "mailgun_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("event_digest", sa.String(64), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_mailgun_tokens_seen_at", "mailgun_tokens", ["seen_at"])


def downgrade():
    op.drop_index("ix_mailgun_tokens_seen_at", table_name="mailgun_tokens")
    op.drop_table("mailgun_tokens")
