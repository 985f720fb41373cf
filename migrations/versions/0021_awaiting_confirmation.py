"""A recipient prefs made for an unconfirmed double opt-in gets no topic's default (SPEC §14: no_consent meanwhile)

Anyone can type an address on a hosted form: the recipient it makes was given every email topic's default
at once, so an address nobody confirmed was mailable for topics on by default. Existing recipients keep
their defaults (false).

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30 20:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("recipients") as batch_op:
        batch_op.add_column(sa.Column("awaiting_confirmation", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table("recipients") as batch_op:
        batch_op.drop_column("awaiting_confirmation")
