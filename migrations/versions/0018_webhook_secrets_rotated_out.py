"""Every webhook secret rotated out within 24 h keeps signing, not only the last one (SPEC §13)

A second rotation within a day replaced the one secret kept beside the current one, so the first secret stopped
signing before its 24 h were up. The secrets rotated out are now a list, each with its own end. Dropping a column
is SQLite's native ALTER TABLE ... DROP COLUMN (3.35+): no table copy, so no cascade to the deliveries.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 17:00:00
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

endpoints = sa.table(
    "webhook_endpoints",
    sa.column("id", sa.Integer),
    sa.column("previous_secret", sa.String),
    sa.column("previous_secret_until", sa.DateTime(timezone=True)),
    sa.column("previous_secrets", sa.JSON),
)


def upgrade():
    op.add_column("webhook_endpoints", sa.Column("previous_secrets", sa.JSON(), nullable=True))
    connection = op.get_bind()
    rotated = connection.execute(
        sa.select(endpoints.c.id, endpoints.c.previous_secret, endpoints.c.previous_secret_until).where(
            endpoints.c.previous_secret.is_not(None), endpoints.c.previous_secret_until.is_not(None)
        )
    ).all()
    for endpoint_id, secret, until in rotated:
        entry = {"secret": secret, "until": _aware(until).isoformat()}
        connection.execute(endpoints.update().where(endpoints.c.id == endpoint_id).values(previous_secrets=[entry]))
    op.drop_column("webhook_endpoints", "previous_secret_until")
    op.drop_column("webhook_endpoints", "previous_secret")


def downgrade():
    op.add_column("webhook_endpoints", sa.Column("previous_secret", sa.String(100), nullable=True))
    op.add_column("webhook_endpoints", sa.Column("previous_secret_until", sa.DateTime(timezone=True), nullable=True))
    connection = op.get_bind()
    rotated = connection.execute(
        sa.select(endpoints.c.id, endpoints.c.previous_secrets).where(endpoints.c.previous_secrets.is_not(None))
    ).all()
    for endpoint_id, entries in rotated:
        if not entries:
            continue
        last = max(entries, key=lambda entry: datetime.fromisoformat(entry["until"]))  # the one rotated out last
        connection.execute(
            endpoints.update()
            .where(endpoints.c.id == endpoint_id)
            .values(previous_secret=last["secret"], previous_secret_until=datetime.fromisoformat(last["until"]))
        )
    op.drop_column("webhook_endpoints", "previous_secrets")


def _aware(moment):
    if isinstance(moment, str):  # SQLite hands back text
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
