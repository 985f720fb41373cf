"""Every plain SQL statement prefs runs, each written once and named; the hot paths use them by name.

Run on the driver's cursor (db/driver.py) with `?` placeholders, which DriverSql turns into `%s` for psycopg.
`{in_list}` marks a key compared with a whole list through one bound parameter (DriverSql.select_in). Only
fixed table and column names appear here, never client text. Everything else is built with SQLAlchemy.
"""

from __future__ import annotations

# --- connections and locks
# Liveness of the database for /healthz (through the session).
PING = "SELECT 1"
# SQLite: open the transaction holding the write lock, so what is read next is current when written.
BEGIN_IMMEDIATE = "BEGIN IMMEDIATE"
# PostgreSQL: the transaction-scoped lock that makes consent event ids follow commit order (services/events.py).
LOCK_EVENT_WRITES = "SELECT pg_advisory_xact_lock(?)"

# --- `{in_list}`: one parameter for any number of values
# PostgreSQL: the values as one array.
IN_LIST_POSTGRES = "= ANY(?)"
# SQLite: the values as one JSON array.
IN_LIST_SQLITE = "IN (SELECT value FROM json_each(?))"

# --- recipients
# SQLite: the recipient to change, once BEGIN IMMEDIATE holds the write lock (RecipientRow's field order).
READ_RECIPIENT_SQLITE = "SELECT pk, id, status, email, phone, postal_address, email_hash, phone_hash FROM recipients WHERE id = ?"
# SQLite inside an open transaction: the no-op UPDATE takes the write lock and RETURNING reads the row.
LOCK_RECIPIENT_SQLITE = (
    "UPDATE recipients SET pk = pk WHERE id = ? RETURNING pk, id, status, email, phone, postal_address, email_hash, phone_hash"
)
# PostgreSQL: the recipient to change, its row locked until the transaction ends.
LOCK_RECIPIENT_POSTGRES = (
    "SELECT pk, id, status, email, phone, postal_address, email_hash, phone_hash FROM recipients WHERE id = ? FOR UPDATE"
)
# Import: the batch's recipients that exist already, by id (services/imports.py's _Current).
IMPORT_RECIPIENTS_BY_ID = "SELECT pk, id, email, phone, locale, status, phone_hash FROM recipients WHERE id {in_list}"
# Import: the pk of each recipient id, for the batch's choices.
RECIPIENT_PKS_BY_ID = "SELECT id, pk FROM recipients WHERE id {in_list}"
# Import: who holds each of these email addresses.
RECIPIENT_IDS_BY_EMAIL = "SELECT email, id FROM recipients WHERE email {in_list}"
# Import: who holds each of these phone numbers.
RECIPIENT_IDS_BY_PHONE = "SELECT phone, id FROM recipients WHERE phone {in_list}"
# Import: a new recipient.
INSERT_RECIPIENT = (
    "INSERT INTO recipients (id, status, email, phone, locale, email_hash, phone_hash, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

# --- the state the decision rule needs (services/states.py), by one kind of key
# `{column}` is the key's column (never client text), `{placeholders}` one `?` per key (states.state_sql).
STATE_BY_KEYS = """
SELECT r.{column}, r.id, r.status, r.email IS NOT NULL, r.phone IS NOT NULL, r.postal_address IS NOT NULL,
       sp.source = 'sms_stop', se.hash IS NOT NULL, sp.hash IS NOT NULL, c.topic, c.channel, c.subscribed, r.pk
FROM recipients r
LEFT JOIN suppressions se ON se.hash = r.email_hash
LEFT JOIN suppressions sp ON sp.hash = r.phone_hash
LEFT JOIN choices c ON c.recipient_pk = r.pk
WHERE r.{column} IN ({placeholders})
"""

# --- choices
# A recipient's stored choices.
STORED_CHOICES = "SELECT topic, channel, subscribed FROM choices WHERE recipient_pk = ?"
# Import: the stored choices of the batch's recipients.
STORED_CHOICES_OF = "SELECT recipient_pk, topic, channel, subscribed FROM choices WHERE recipient_pk {in_list}"
# A new stored choice.
INSERT_CHOICE = "INSERT INTO choices (subscribed, updated_at, recipient_pk, topic, channel) VALUES (?, ?, ?, ?, ?)"
# A stored choice changed.
UPDATE_CHOICE = "UPDATE choices SET subscribed = ?, updated_at = ? WHERE recipient_pk = ? AND topic = ? AND channel = ?"
# A stored choice removed (the cell goes back to its default).
DELETE_CHOICE = "DELETE FROM choices WHERE recipient_pk = ? AND topic = ? AND channel = ?"

# --- suppressions
# The check: which of these address hashes are suppressed.
SUPPRESSED_HASHES = "SELECT hash FROM suppressions WHERE hash {in_list}"
# Import: the source of each of these hashes' suppressions (an SMS stop refuses an opt-in to texts).
SUPPRESSION_SOURCES = "SELECT hash, source FROM suppressions WHERE hash {in_list}"

# --- consent events
# One event, every column (services/events.py record_event).
INSERT_EVENT = (
    "INSERT INTO consent_events (at, recipient_id, actor, actor_id, via, kind, topic, channel, before, after, reason, evidence)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# Import: one `imported` event per changed row, which never has a topic, channel, reason or evidence.
INSERT_IMPORT_EVENT = (
    "INSERT INTO consent_events (at, recipient_id, actor, actor_id, via, kind, before, after) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
