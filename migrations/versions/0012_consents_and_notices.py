"""Opt-in and proof of consent (SPEC §14): notices and their versions, pending and recorded consents

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 05:00:00
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
