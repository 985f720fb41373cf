"""consent_events partitioned by month on PostgreSQL (issue 17)

Event writes wait while it runs (it copies the table under an exclusive lock): upgrade at a quiet time. The
old code works against the new table unchanged, so it need not be stopped.

PostgreSQL: `consent_events` becomes a table partitioned by RANGE on `at`, one partition a month named
consent_events_yYYYYmMM holding [the first of the month, the first of the next) in UTC, and a default
partition consent_events_default that takes any row no month partition covers, so an insert never fails for
want of a partition. This migration creates a partition for every month that holds events and for the
current month and the next MONTHS_AHEAD; later ones are made by `flask --app app partitions ensure`, which the
worker runs when it starts and once a day (services/partitions.py).

- The primary key is (id, at): every unique key of a partitioned table must include the partition key. Ids
  still come from the one sequence consent_events_id_seq (kept, so numbering goes on where it was), so they
  stay unique across partitions and follow commit order as before (services/events.py): the change feed
  (ORDER BY id) reads across partitions unchanged.
- Every other index of the table is made again on the partitioned table (so on each partition).
- Foreign keys referencing consent_events: this schema has none (outbox.event_id and deliveries.event_id are
  plain columns on purpose: the outbox is emptied as it is fanned out, and events are never deleted). A
  foreign key to consent_events(id) alone cannot exist once the key is (id, at), so any that another migration
  added is dropped here, its definition kept in the table's comment, and downgrade puts it back.
- Existing rows are moved under an exclusive lock: the table is renamed, the partitioned one created beside
  it, the rows copied over in one INSERT ... SELECT, the old table dropped.

Downgrade restores a plain table (primary key id) with the same rows, indexes and sequence.
SQLite: nothing to do (it has no partitioning); this revision is a no-op there.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 05:00:00
"""

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

MONTHS_AHEAD = 3
FOREIGN_KEYS_NOTE = "prefs 0014: foreign keys dropped by partitioning: "


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return  # SQLite: no partitioning
    op.execute("LOCK TABLE consent_events IN ACCESS EXCLUSIVE MODE")
    foreign_keys = _foreign_keys_to(bind, "consent_events")
    for table, name, _definition in foreign_keys:
        op.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    indexes = _other_indexes(bind, "consent_events", "pk_consent_events")
    for name, _definition in indexes:
        op.execute(f'DROP INDEX "{name}"')
    op.execute("ALTER TABLE consent_events RENAME TO consent_events_plain")
    op.execute("ALTER TABLE consent_events_plain RENAME CONSTRAINT pk_consent_events TO pk_consent_events_plain")
    op.execute("ALTER SEQUENCE consent_events_id_seq OWNED BY NONE")
    op.execute("CREATE TABLE consent_events (LIKE consent_events_plain INCLUDING DEFAULTS) PARTITION BY RANGE (at)")
    op.execute("ALTER SEQUENCE consent_events_id_seq OWNED BY consent_events.id")
    op.execute("CREATE TABLE consent_events_default PARTITION OF consent_events DEFAULT")
    months = {
        (int(year), int(month))
        for year, month in bind.execute(
            sa.text(
                "SELECT DISTINCT extract(year FROM at AT TIME ZONE 'UTC'), extract(month FROM at AT TIME ZONE 'UTC')"
                " FROM consent_events_plain"
            )
        )
    }
    now = datetime.now(UTC)
    months |= {_add_months(now.year, now.month, ahead) for ahead in range(MONTHS_AHEAD + 1)}
    for year, month in sorted(months):
        lower, upper = _bound(year, month), _bound(*_add_months(year, month, 1))
        op.execute(
            f"CREATE TABLE consent_events_y{year:04d}m{month:02d} PARTITION OF consent_events"
            f" FOR VALUES FROM ('{lower}') TO ('{upper}')"
        )
    columns = ", ".join(f'"{name}"' for name in _columns(bind, "consent_events_plain"))
    op.execute(f"INSERT INTO consent_events ({columns}) SELECT {columns} FROM consent_events_plain ORDER BY id")  # noqa: S608 (column names from the catalogue, quoted)
    op.execute("DROP TABLE consent_events_plain")
    op.execute("ALTER TABLE consent_events ADD CONSTRAINT pk_consent_events PRIMARY KEY (id, at)")
    for _name, definition in indexes:
        op.execute(definition)
    if foreign_keys:
        note = FOREIGN_KEYS_NOTE + json.dumps(foreign_keys)
        op.execute(sa.text(("COMMENT ON TABLE consent_events IS " + _literal(note)).replace(":", "\\:")))
    op.execute("ANALYZE consent_events")


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute("LOCK TABLE consent_events IN ACCESS EXCLUSIVE MODE")
    comment = bind.execute(sa.text("SELECT obj_description('consent_events'::regclass, 'pg_class')")).scalar()
    foreign_keys = (
        json.loads(comment.removeprefix(FOREIGN_KEYS_NOTE)) if comment and comment.startswith(FOREIGN_KEYS_NOTE) else []
    )
    indexes = _other_indexes(bind, "consent_events", "pk_consent_events")
    op.execute("CREATE TABLE consent_events_plain (LIKE consent_events INCLUDING DEFAULTS)")
    columns = ", ".join(f'"{name}"' for name in _columns(bind, "consent_events"))
    op.execute(f"INSERT INTO consent_events_plain ({columns}) SELECT {columns} FROM consent_events ORDER BY id")  # noqa: S608 (column names from the catalogue, quoted)
    op.execute("ALTER SEQUENCE consent_events_id_seq OWNED BY NONE")
    op.execute("DROP TABLE consent_events")  # its partitions and indexes with it
    op.execute("ALTER TABLE consent_events_plain RENAME TO consent_events")
    op.execute("ALTER SEQUENCE consent_events_id_seq OWNED BY consent_events.id")
    op.execute("ALTER TABLE consent_events ADD CONSTRAINT pk_consent_events PRIMARY KEY (id)")
    for _name, definition in indexes:
        op.execute(definition.replace(" ON ONLY ", " ON "))
    for table, name, definition in foreign_keys:
        op.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')


def _foreign_keys_to(bind, table: str) -> list[list[str]]:
    """[referencing table, constraint name, definition] of every foreign key that references `table`."""
    rows = bind.execute(
        sa.text(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE contype = 'f' AND confrelid = CAST(:table AS regclass) ORDER BY conname"
        ),
        {"table": table},
    )
    return [list(row) for row in rows]


def _other_indexes(bind, table: str, primary_key: str) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of the table's indexes other than its primary key's."""
    rows = bind.execute(
        sa.text(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = CAST(:table AS regclass) AND c.relname <> :primary_key ORDER BY c.relname"
        ),
        {"table": table, "primary_key": primary_key},
    )
    return [(name, definition) for name, definition in rows]


def _columns(bind, table: str) -> list[str]:
    rows = bind.execute(
        sa.text(
            "SELECT attname FROM pg_attribute WHERE attrelid = CAST(:table AS regclass) AND attnum > 0"
            " AND NOT attisdropped ORDER BY attnum"
        ),
        {"table": table},
    )
    return [name for (name,) in rows]


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + month - 1 + months
    return index // 12, index % 12 + 1


def _bound(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}-01 00:00:00+00"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
