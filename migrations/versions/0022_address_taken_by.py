"""Which recipient took an unconfirmed signup's address (services/recipients.py, release_address)

When the client's own system gives its customer an address an unconfirmed signup held, the signup's history
still holds that address (and the IP and user agent of whoever typed it): data about the customer, which the
customer's erasure must reach. The signup remembers who took its address and the event that says so; the
taker's erasure forgets what the signup held up to that event. The index holds only the few such signups.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-30 23:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

TAKEN = sa.text("address_taken_by IS NOT NULL")


def upgrade():
    with op.batch_alter_table("recipients") as batch_op:
        batch_op.add_column(sa.Column("address_taken_by", sa.String(128), nullable=True))
        batch_op.add_column(sa.Column("address_taken_at_event", sa.BigInteger(), nullable=True))
    op.create_index(
        "ix_recipients_address_taken_by", "recipients", ["address_taken_by"], postgresql_where=TAKEN, sqlite_where=TAKEN
    )


def downgrade():
    op.drop_index("ix_recipients_address_taken_by", table_name="recipients")
    with op.batch_alter_table("recipients") as batch_op:
        batch_op.drop_column("address_taken_at_event")
        batch_op.drop_column("address_taken_by")
