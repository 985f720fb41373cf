"""Cache coherence across nodes (SPEC §18, P7): a change counter per cached table

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 02:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table(
        "cache_generations",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("generation", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.bulk_insert(table, [{"name": "topics", "generation": 0}, {"name": "api_keys", "generation": 0}])


def downgrade():
    op.drop_table("cache_generations")
