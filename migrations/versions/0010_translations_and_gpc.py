"""Recipient pages, second edition (SPEC §16): topic names and descriptions in other languages, and the
person's "do not sell or share" opt-out (Global Privacy Control)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 03:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("topics") as batch:
        batch.add_column(sa.Column("names", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("descriptions", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("recipients") as batch:
        # When the person opted out of the sale or sharing of their personal information (None: not opted out).
        batch.add_column(sa.Column("do_not_sell_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("recipients") as batch:
        batch.drop_column("do_not_sell_at")
    with op.batch_alter_table("topics") as batch:
        batch.drop_column("descriptions")
        batch.drop_column("names")
