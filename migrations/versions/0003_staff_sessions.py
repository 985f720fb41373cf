"""staff session epoch: signing out, a password reset and disabling end every session of the account

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 19:10:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    # Existing accounts start at epoch 0; batch mode because SQLite drops a column only by copying the table.
    with op.batch_alter_table("staff_users") as batch_op:
        batch_op.add_column(sa.Column("session_epoch", sa.Integer(), server_default="0", nullable=False))


def downgrade():
    with op.batch_alter_table("staff_users") as batch_op:
        batch_op.drop_column("session_epoch")
