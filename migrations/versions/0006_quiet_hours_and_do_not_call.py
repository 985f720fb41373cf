"""Calls and texts (SPEC §17): the recipient's time zone, opt-ins with evidence, the do-not-call list

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Moment = sa.DateTime(timezone=True)


def upgrade():
    # Batch mode: SQLite drops a column only by copying the table (downgrade); adding one is plain ALTER.
    with op.batch_alter_table("recipients") as batch_op:
        batch_op.add_column(sa.Column("time_zone", sa.String(64), nullable=True))
    # Existing opt-ins carry no evidence flag: the do-not-call list applies to them until one is given again.
    with op.batch_alter_table("choices") as batch_op:
        batch_op.add_column(sa.Column("with_evidence", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table(
        "dnc_lists",
        sa.Column("generation", sa.Integer(), primary_key=True),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("numbers", sa.Integer(), nullable=False),
        sa.Column("bad_lines", sa.Integer(), nullable=False),
        sa.Column("started_at", Moment, nullable=False),
        sa.Column("loaded_at", Moment, nullable=True),
    )
    op.create_table(
        "dnc_numbers",
        sa.Column("generation", sa.Integer(), primary_key=True),
        sa.Column("hash", sa.String(64), primary_key=True),
        sqlite_with_rowid=False,
    )


def downgrade():
    op.drop_table("dnc_numbers")
    op.drop_table("dnc_lists")
    with op.batch_alter_table("choices") as batch_op:
        batch_op.drop_column("with_evidence")
    with op.batch_alter_table("recipients") as batch_op:
        batch_op.drop_column("time_zone")
