"""SMS stops belong to the number; one canonical spelling of every stored email address

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 19:40:00

An SMS stop was a column of the recipient, so it left with the person when they changed number (and
became an ordinary suppression when erased). It is now the number's suppression, source `sms_stop`.

Emails were only trimmed and lower-cased, so the NFD spelling of zoë@exämple.com or its A-label domain
(xn--exmple-cua.com) missed the suppression of the NFC spelling. They are now stored as NFC local part
and U-label domain; the suppression hash (HMAC with PREFS_SUPPRESSION_KEY) of each changed address is
recomputed, and a suppression of the old spelling is carried over to the new one. A suppression of an
address no recipient holds cannot be re-spelled: only its hash is kept.
"""

import hashlib
import hmac
import logging
import unicodedata
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from email_validator import EmailNotValidError, validate_email
from flask import current_app

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
recipients = sa.table(
    "recipients",
    sa.column("pk", sa.Integer),
    sa.column("email", sa.String),
    sa.column("email_hash", sa.String),
    sa.column("phone", sa.String),
    sa.column("phone_hash", sa.String),
    sa.column("sms_stopped_at", sa.DateTime(timezone=True)),
)
suppressions = sa.table(
    "suppressions",
    sa.column("hash", sa.String),
    sa.column("kind", sa.String),
    sa.column("source", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def upgrade():
    connection = op.get_bind()
    stopped = connection.execute(
        sa.select(recipients.c.phone_hash, recipients.c.sms_stopped_at).where(
            recipients.c.sms_stopped_at.is_not(None), recipients.c.phone_hash.is_not(None)
        )
    ).all()
    for phone_hash, stopped_at in stopped:
        connection.execute(sa.delete(suppressions).where(suppressions.c.hash == phone_hash))
        connection.execute(
            sa.insert(suppressions).values(hash=phone_hash, kind="phone", source="sms_stop", created_at=stopped_at)
        )
    with op.batch_alter_table("recipients") as batch_op:
        batch_op.drop_column("sms_stopped_at")
    _canonical_emails(connection)


def _canonical_emails(connection):
    # Only addresses that are not plain ASCII, or whose domain is an A-label, can change.
    rows = connection.execute(
        sa.select(recipients.c.pk, recipients.c.email, recipients.c.email_hash).where(recipients.c.email.is_not(None))
    ).all()
    changes = [(pk, email, old_hash, _canonical(email)) for pk, email, old_hash in rows if not email.isascii() or "xn--" in email]
    changes = [change for change in changes if change[3] != change[1]]
    if not changes:
        return
    key = current_app.config["PREFS_SUPPRESSION_KEY"].encode()
    taken = {email for _, email, _ in rows}
    for pk, _spelled, old_hash, canonical in changes:
        if canonical in taken:
            # Two recipients hold two spellings of one address: which one is the person is for support to say.
            log.warning("recipient pk %s keeps a non-canonical email: another recipient holds its canonical spelling", pk)
            continue
        taken.add(canonical)
        new_hash = hmac.new(key, f"email:{canonical}".encode(), hashlib.sha256).hexdigest()
        connection.execute(sa.update(recipients).where(recipients.c.pk == pk).values(email=canonical, email_hash=new_hash))
        old = connection.execute(
            sa.select(suppressions.c.source, suppressions.c.created_at).where(suppressions.c.hash == old_hash)
        ).first()
        present = connection.execute(sa.select(suppressions.c.hash).where(suppressions.c.hash == new_hash)).first()
        if old is not None and present is None:
            connection.execute(
                sa.insert(suppressions).values(hash=new_hash, kind="email", source=old.source, created_at=old.created_at)
            )


def _canonical(email):
    """Frozen here (a migration must mean the same thing forever): NFC local part, U-label domain, lower case."""
    try:
        checked = validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        return email
    return unicodedata.normalize("NFC", checked.local_part.lower()) + "@" + unicodedata.normalize("NFC", checked.domain.lower())


def downgrade():
    with op.batch_alter_table("recipients") as batch_op:
        batch_op.add_column(sa.Column("sms_stopped_at", sa.DateTime(timezone=True), nullable=True))
    connection = op.get_bind()
    held = connection.execute(
        sa.select(recipients.c.pk, suppressions.c.hash, suppressions.c.created_at)
        .join(suppressions, suppressions.c.hash == recipients.c.phone_hash)
        .where(suppressions.c.source == "sms_stop")
    ).all()
    for pk, digest, created_at in held:
        connection.execute(
            sa.update(recipients).where(recipients.c.pk == pk).values(sms_stopped_at=created_at or datetime.now(UTC))
        )
        connection.execute(sa.delete(suppressions).where(suppressions.c.hash == digest))
    # Canonical email spellings stay: the old spelling of each is not kept anywhere.
