"""Every plain SQL statement prefs runs, each written once and named; the hot paths use them by name.

Run on the driver's cursor (db/driver.py) with `?` placeholders, which DriverSql turns into `%s` for psycopg.
`{in_list}` marks a key compared with a whole list through one bound parameter (DriverSql.select_in). Only
fixed table and column names appear here, never client text. Everything else is built with SQLAlchemy.
"""

from __future__ import annotations

# --- connections and locks
# Liveness of the database for /healthz (through the session).
PING = "SELECT 1"
# The schema's migration, for /readyz (Alembic's table).
SCHEMA_VERSION = "SELECT version_num FROM alembic_version"
# SQLite: open the transaction holding the write lock, so what is read next is current when written.
BEGIN_IMMEDIATE = "BEGIN IMMEDIATE"
# PostgreSQL: the transaction-scoped lock that makes consent event ids follow commit order (services/events.py).
LOCK_EVENT_WRITES = "SELECT pg_advisory_xact_lock(?)"

# --- `{in_list}`: one parameter for any number of values
# PostgreSQL, whole numbers: one array literal (psycopg would adapt a Python list element by element, in Python).
IN_LIST_POSTGRES_NUMBERS = "= ANY(?::bigint[])"
# PostgreSQL, text: one JSON array (cheaper to send than a list psycopg adapts, and escapes nothing by hand).
IN_LIST_POSTGRES_TEXT = "= ANY(ARRAY(SELECT jsonb_array_elements_text(?::jsonb)))"
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
IMPORT_RECIPIENTS_BY_ID = "SELECT pk, id, email, phone, locale, time_zone, status, phone_hash FROM recipients WHERE id {in_list}"
# Import on PostgreSQL: the same, locked until the batch commits, so what it was decided from cannot change
# before it is written (an erasure, a new address waits for it).
LOCK_IMPORT_RECIPIENTS_BY_ID_POSTGRES = IMPORT_RECIPIENTS_BY_ID + " ORDER BY pk FOR UPDATE"
# Import: the pk of each recipient id, for the batch's choices.
RECIPIENT_PKS_BY_ID = "SELECT id, pk FROM recipients WHERE id {in_list}"
# A recipient prefs made for a double opt-in nobody has confirmed, who has said nothing since (no choice, no
# opt-out of sale): it holds its address only for the confirmation mail, so a writer who vouches for the
# person (PUT, the console, an import) may take the address from it (services/recipients.py, take_addresses).
_UNVOUCHED = (
    "r.awaiting_confirmation AND r.status = 'active' AND r.do_not_sell_at IS NULL"
    " AND NOT EXISTS (SELECT 1 FROM choices c WHERE c.recipient_pk = r.pk)"
)
# Who holds each of these email addresses, and whether that holder is unvouched (above; the f-strings here put
# in that fixed text, nothing else).
RECIPIENT_IDS_BY_EMAIL = f"SELECT r.email, r.id, {_UNVOUCHED} FROM recipients r WHERE r.email {{in_list}}"  # noqa: S608
# The same for phone numbers.
RECIPIENT_IDS_BY_PHONE = f"SELECT r.phone, r.id, {_UNVOUCHED} FROM recipients r WHERE r.phone {{in_list}}"  # noqa: S608
# Take an email address from its unvouched holder: (updated_at, taker id, holder id, address). Nothing when the
# holder has been vouched for or has spoken since it was read.
RELEASE_UNVOUCHED_EMAIL = (
    "UPDATE recipients AS r SET email = NULL, email_hash = NULL, updated_at = ?, address_taken_by = ?"  # noqa: S608
    f" WHERE r.id = ? AND r.email = ? AND {_UNVOUCHED}"
    " RETURNING pk"
)
# The same for a phone number.
RELEASE_UNVOUCHED_PHONE = (
    "UPDATE recipients AS r SET phone = NULL, phone_hash = NULL, updated_at = ?, address_taken_by = ?"  # noqa: S608
    f" WHERE r.id = ? AND r.phone = ? AND {_UNVOUCHED}"
    " RETURNING pk"
)
# A release's event is the holder's newest: its id, for the taker's erasure (services/forgetting.py).
MARK_RELEASE_EVENT = (
    "UPDATE recipients SET address_taken_at_event = (SELECT max(e.id) FROM consent_events e WHERE e.recipient_id = ?)"
    " WHERE id = ?"
)
# Import: a new recipient.
INSERT_RECIPIENT = (
    "INSERT INTO recipients (id, status, email, phone, locale, time_zone, email_hash, phone_hash, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

# --- the state the decision rule needs (services/states.py), by one kind of key
# `{column}` is the key's column (never client text), `{placeholders}` one `?` per key (states.state_sql).
# The do-not-call list in force is the newest loaded one (dnc_lists.loaded_at set); its numbers are
# matched by the number's suppression hash, and the choices say which opt-ins were stored with evidence.
# An email address a provider reported dead (rule 6a) is matched by its hash too.
STATE_BY_KEYS = """
SELECT r.{column}, r.id, r.status, r.email IS NOT NULL, r.phone IS NOT NULL, r.postal_address IS NOT NULL,
       sp.source = 'sms_stop', se.hash IS NOT NULL, sp.hash IS NOT NULL, c.topic, c.channel, c.subscribed, r.pk,
       r.time_zone, r.phone, dn.hash IS NOT NULL, dl.as_of, c.with_evidence, ua.hash IS NOT NULL, r.awaiting_confirmation
FROM recipients r
LEFT JOIN suppressions se ON se.hash = r.email_hash
LEFT JOIN undeliverable_addresses ua ON ua.hash = r.email_hash
LEFT JOIN suppressions sp ON sp.hash = r.phone_hash
LEFT JOIN dnc_lists dl ON dl.generation = (SELECT max(generation) FROM dnc_lists WHERE loaded_at IS NOT NULL)
LEFT JOIN dnc_numbers dn ON dn.generation = dl.generation AND dn.hash = r.phone_hash
LEFT JOIN choices c ON c.recipient_pk = r.pk
WHERE r.{column} IN ({placeholders})
"""

# --- choices
# A recipient's stored choices, and whether each was stored with evidence of consent.
STORED_CHOICES = "SELECT topic, channel, subscribed, with_evidence FROM choices WHERE recipient_pk = ?"
# Import: the stored choices of the batch's recipients.
STORED_CHOICES_OF = "SELECT recipient_pk, topic, channel, subscribed FROM choices WHERE recipient_pk {in_list}"
# A new stored choice.
INSERT_CHOICE = (
    "INSERT INTO choices (subscribed, with_evidence, updated_at, recipient_pk, topic, channel) VALUES (?, ?, ?, ?, ?, ?)"
)
# A stored choice changed.
UPDATE_CHOICE = (
    "UPDATE choices SET subscribed = ?, with_evidence = ?, updated_at = ? WHERE recipient_pk = ? AND topic = ? AND channel = ?"
)
# A stored choice turned off by an import, its evidence flag as it was (services/preferences.py, write_choices).
OPT_OUT_CHOICE = "UPDATE choices SET subscribed = ?, updated_at = ? WHERE recipient_pk = ? AND topic = ? AND channel = ?"
# A stored choice removed (the cell goes back to its default).
DELETE_CHOICE = "DELETE FROM choices WHERE recipient_pk = ? AND topic = ? AND channel = ?"

# --- suppressions
# The check: which of these address hashes are suppressed.
SUPPRESSED_HASHES = "SELECT hash FROM suppressions WHERE hash {in_list}"
# Import: the source of each of these hashes' suppressions (an SMS stop refuses an opt-in to texts).
SUPPRESSION_SOURCES = "SELECT hash, source FROM suppressions WHERE hash {in_list}"

# --- the do-not-call list (services/dnc.py)
# A load begins: its list row, not in force until loaded_at is set.
INSERT_DNC_LIST = (
    "INSERT INTO dnc_lists (as_of, file_name, numbers, bad_lines, started_at) VALUES (?, ?, 0, 0, ?) RETURNING generation"
)
# Generations below the one in force: superseded lists, and loads that died before finishing.
SUPERSEDED_DNC_GENERATIONS = (
    "SELECT generation FROM dnc_lists WHERE generation < (SELECT max(generation) FROM dnc_lists WHERE loaded_at IS NOT NULL)"
)
# PostgreSQL: a batch of numbers (as hashes) for a generation, as one array; a number twice in the file is stored once.
INSERT_DNC_NUMBERS_POSTGRES = "INSERT INTO dnc_numbers (generation, hash) SELECT ?, unnest(?::varchar[]) ON CONFLICT DO NOTHING"
# SQLite: the same, the hashes as one JSON array.
INSERT_DNC_NUMBERS_SQLITE = "INSERT OR IGNORE INTO dnc_numbers (generation, hash) SELECT ?, value FROM json_each(?)"
# How many distinct numbers a generation holds.
COUNT_DNC_NUMBERS = "SELECT count(*) FROM dnc_numbers WHERE generation = ?"
# The switch: a loaded generation is in force from this commit on (the newest loaded one is).
DNC_LIST_LOADED = "UPDATE dnc_lists SET numbers = ?, bad_lines = ?, loaded_at = ? WHERE generation = ?"
# Clearing out a generation not in force, one range of hashes at a time (short write transactions, each an
# index range of its own: no scanning past rows an earlier batch deleted).
DELETE_DNC_NUMBERS_BETWEEN = "DELETE FROM dnc_numbers WHERE generation = ? AND hash >= ? AND hash < ?"
# The last of a generation: any number the ranges missed, then its row.
DELETE_DNC_NUMBERS = "DELETE FROM dnc_numbers WHERE generation = ?"
# A generation's list row.
DELETE_DNC_LIST = "DELETE FROM dnc_lists WHERE generation = ?"
# The list in force, for the console: its as-of date, when it was loaded, how many numbers.
DNC_LIST_IN_FORCE = (
    "SELECT as_of, loaded_at, numbers, file_name FROM dnc_lists"
    " WHERE generation = (SELECT max(generation) FROM dnc_lists WHERE loaded_at IS NOT NULL)"
)

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

# --- consent_events' monthly partitions on PostgreSQL (migration 0014, services/partitions.py)
# `{partition}` is a name services/partitions.py makes from a month (consent_events_yYYYYmMM), `{lower}` and
# `{upper}` the month's bounds it formats itself (DDL takes no bound parameters); never client text.
# Whether consent_events is partitioned here (false before migration 0014).
EVENTS_PARTITIONED_POSTGRES = "SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass('consent_events')"
# The partitions that exist, by name.
EVENT_PARTITIONS_POSTGRES = (
    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass('consent_events')"
)
# One maker of partitions at a time; the lock ATTACH PARTITION takes anyway, which inserts and reads never wait on.
LOCK_EVENT_PARTITIONS_POSTGRES = "LOCK TABLE consent_events IN SHARE UPDATE EXCLUSIVE MODE"
# The default partition, should it be missing: a row whose month has no partition still goes somewhere.
CREATE_DEFAULT_EVENT_PARTITION_POSTGRES = "CREATE TABLE IF NOT EXISTS consent_events_default PARTITION OF consent_events DEFAULT"
# A month's partition, made beside the table before it is attached.
CREATE_EVENT_PARTITION_POSTGRES = "CREATE TABLE {partition} (LIKE consent_events INCLUDING DEFAULTS)"
# Rows of that month that went to the default partition meanwhile move into it (in the same transaction).
MOVE_DEFAULT_EVENTS_POSTGRES = """
WITH moved AS (DELETE FROM consent_events_default WHERE at >= ? AND at < ? RETURNING *),
     copied AS (INSERT INTO {partition} SELECT * FROM moved RETURNING 1)
SELECT count(*) FROM copied
"""
# The month's partition joins the table (it gets the table's primary key and indexes).
ATTACH_EVENT_PARTITION_POSTGRES = (
    "ALTER TABLE consent_events ATTACH PARTITION {partition} FOR VALUES FROM ('{lower}') TO ('{upper}')"
)

# --- the import on PostgreSQL (services/imports.py): a batch is COPYed into temporary staging tables, then
# written with one set-based statement per table. The staging tables live as long as the connection and are
# emptied at every commit, so a pooled connection (or one pgbouncer hands to another client) never sees
# another batch's rows; IF NOT EXISTS makes them on whichever connection the batch runs.
# The batch's new and changed recipients (NULL: leave the stored value; an import never clears one).
CREATE_IMPORT_RECIPIENTS_STAGE_POSTGRES = """
CREATE TEMPORARY TABLE IF NOT EXISTS import_recipients_stage (
  n integer, id varchar(128), email varchar(320), phone varchar(32), locale varchar(35), time_zone varchar(64),
  email_hash varchar(64), phone_hash varchar(64)
) ON COMMIT DELETE ROWS
"""
# The batch's choices that differ from what is stored.
CREATE_IMPORT_CHOICES_STAGE_POSTGRES = """
CREATE TEMPORARY TABLE IF NOT EXISTS import_choices_stage (
  recipient_pk integer, topic varchar(64), channel varchar(8), subscribed boolean
) ON COMMIT DELETE ROWS
"""
# The batch's new and changed recipients into their staging table.
COPY_IMPORT_RECIPIENTS_POSTGRES = (
    "COPY import_recipients_stage (n, id, email, phone, locale, time_zone, email_hash, phone_hash) FROM STDIN"
)
# The batch's changed choices into theirs.
COPY_IMPORT_CHOICES_POSTGRES = "COPY import_choices_stage (recipient_pk, topic, channel, subscribed) FROM STDIN"
# The batch's `imported` events, COPYed straight into their table (under the event write lock; INSERT_IMPORT_OUTBOX follows).
COPY_IMPORT_EVENTS_POSTGRES = "COPY consent_events (at, recipient_id, actor, actor_id, via, kind, before, after) FROM STDIN"
# The upsert: new recipients in file order (their pk follows it), changed fields of existing ones (which the client
# vouches for: no longer awaiting a confirmation); (id, pk) of each.
UPSERT_IMPORT_RECIPIENTS_POSTGRES = """
INSERT INTO recipients AS r (id, status, email, phone, locale, time_zone, email_hash, phone_hash, created_at, updated_at)
SELECT id, 'active', email, phone, locale, time_zone, email_hash, phone_hash, ?, ? FROM import_recipients_stage ORDER BY n
ON CONFLICT (id) DO UPDATE SET
  email = coalesce(EXCLUDED.email, r.email), phone = coalesce(EXCLUDED.phone, r.phone),
  locale = coalesce(EXCLUDED.locale, r.locale), time_zone = coalesce(EXCLUDED.time_zone, r.time_zone),
  email_hash = coalesce(EXCLUDED.email_hash, r.email_hash), phone_hash = coalesce(EXCLUDED.phone_hash, r.phone_hash),
  updated_at = EXCLUDED.updated_at, awaiting_confirmation = false
WHERE r.status <> 'erased'
RETURNING id, pk
"""
# The upsert of the changed choices (an import carries no evidence of consent: with_evidence is false).
UPSERT_IMPORT_CHOICES_POSTGRES = """
INSERT INTO choices AS c (recipient_pk, topic, channel, subscribed, with_evidence, updated_at)
SELECT recipient_pk, topic, channel, subscribed, ?, ? FROM import_choices_stage
ON CONFLICT (recipient_pk, topic, channel) DO UPDATE SET
  subscribed = EXCLUDED.subscribed, updated_at = EXCLUDED.updated_at,
  -- an opt-out keeps the stored evidence flag, as write_choices does (services/preferences.py)
  with_evidence = CASE WHEN EXCLUDED.subscribed THEN EXCLUDED.with_evidence ELSE c.with_evidence END
"""

# --- the outbox (services/outbox.py) and the delivery worker (services/delivery.py)
# One event and its outbox message, in one round trip on PostgreSQL (the one-click path runs it).
INSERT_EVENT_WITH_OUTBOX_POSTGRES = """
WITH e AS (
  INSERT INTO consent_events (at, recipient_id, actor, actor_id, via, kind, topic, channel, before, after, reason, evidence)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id, recipient_id, at
)
INSERT INTO outbox (kind, type, event_id, ordering_key, created_at) SELECT 'event', ?, id, recipient_id, at FROM e
"""
# SQLite: the outbox message of the event just inserted on this connection.
INSERT_OUTBOX_FOR_LAST_EVENT_SQLITE = (
    "INSERT INTO outbox (kind, type, event_id, ordering_key, created_at) VALUES ('event', ?, last_insert_rowid(), ?, ?)"
)
# A message that is not a consent event (e.g. suppression.added).
INSERT_OUTBOX = "INSERT INTO outbox (kind, type, event_id, ordering_key, payload, created_at) VALUES (?, ?, ?, ?, ?, ?)"
# Import: the newest event id before a batch writes its events (read under the event write lock).
LAST_EVENT_ID = "SELECT coalesce(max(id), 0) FROM consent_events"
# Import: the outbox messages of the batch's `imported` events, those after LAST_EVENT_ID.
INSERT_IMPORT_OUTBOX = """
INSERT INTO outbox (kind, type, event_id, ordering_key, created_at)
SELECT 'event', CASE WHEN before IS NULL THEN 'recipient.created' WHEN recipient_id {in_list} THEN 'preference.updated'
                     ELSE 'recipient.updated' END, id, recipient_id, at
FROM consent_events WHERE id > ? ORDER BY id
"""
# PostgreSQL: only one worker fans out at a time, so deliveries keep the outbox's (commit) order.
TRY_LOCK_FAN_OUT = "SELECT pg_try_advisory_xact_lock(?)"
# The oldest outbox messages, to fan out.
OUTBOX_BATCH = "SELECT id, kind, type, event_id, ordering_key, payload, created_at FROM outbox ORDER BY id LIMIT ?"
# PostgreSQL: the same, locked until fanned out, so that an erasure deleting a person's mail waits for the fan-out
# and then cancels the mail it made (services/mail.py, cancel_mail_to) rather than miss it.
OUTBOX_BATCH_POSTGRES = OUTBOX_BATCH + " FOR UPDATE"
# The metrics scrape: how many messages wait to be fanned out, and since when.
OUTBOX_BACKLOG = "SELECT count(*), min(created_at) FROM outbox"
# The metrics scrape: deliveries waiting for the worker (a delivery to a disabled endpoint is not), and since when.
DELIVERY_BACKLOG = """
SELECT count(*), min(d.created_at) FROM deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id
WHERE d.status = 'pending' AND w.enabled = ?
"""
# Fanned out: gone from the outbox.
DELETE_OUTBOX = "DELETE FROM outbox WHERE id {in_list}"
# The endpoints a message may go to.
ENABLED_ENDPOINTS = "SELECT id, events, created_at FROM webhook_endpoints WHERE enabled = ?"
# A message to one endpoint.
INSERT_DELIVERY = (
    "INSERT INTO deliveries (endpoint_id, message_id, type, event_id, ordering_key, payload, occurred_at, status, attempts,"
    " next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)"
)
# Due deliveries, each the oldest pending one of its recipient for its endpoint (so a failing message holds
# back that recipient's later ones), of enabled endpoints, oldest first.
DUE_DELIVERIES = """
SELECT d.id, d.endpoint_id, d.message_id, d.type, d.event_id, d.payload, d.occurred_at, d.attempts
FROM deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id
WHERE d.status = 'pending' AND d.next_attempt_at <= ? AND w.enabled = ?
  AND NOT EXISTS (SELECT 1 FROM deliveries p WHERE p.endpoint_id = d.endpoint_id AND p.ordering_key = d.ordering_key
                  AND p.status = 'pending' AND p.id < d.id)
ORDER BY d.id LIMIT ?
"""
# PostgreSQL: plan the claim for the rows there are now. A plan cached while the table was nearly empty
# scans quadratically once thousands are pending (measured: 3.3 s for one claim of 128 at 3,488 pending).
CUSTOM_PLANS_POSTGRES = "SET LOCAL plan_cache_mode = force_custom_plan"
# PostgreSQL: the same, locked; rows another worker holds are skipped, not waited for.
# The endpoint's row is held too (key share: other workers may hold it as well), so that deleting the endpoint
# waits for the batch in flight instead of deadlocking with its attempts' foreign key; an endpoint being deleted
# is skipped.
DUE_DELIVERIES_POSTGRES = DUE_DELIVERIES.rstrip() + " FOR UPDATE OF d SKIP LOCKED FOR KEY SHARE OF w SKIP LOCKED"
# The URL and secrets of the endpoints of a batch.
ENDPOINTS_FOR_SENDING = "SELECT id, url, secret, previous_secrets FROM webhook_endpoints WHERE id {in_list}"
# An attempt's outcome, unless its delivery went meanwhile (SQLite sends outside a transaction, and deleting an
# endpoint deletes its deliveries).
INSERT_ATTEMPT = (
    "INSERT INTO delivery_attempts (delivery_id, endpoint_id, at, status_code, error, duration_ms)"
    " SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM deliveries WHERE id = ?)"
)
# Retention: finished deliveries (and their attempts, by cascade) older than the cut-off, a batch at a time.
PRUNE_DELIVERIES = (
    "DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries WHERE status <> 'pending' AND created_at < ? LIMIT ?)"
)
# A delivery answered 2xx.
DELIVERED = "UPDATE deliveries SET status = 'delivered', attempts = attempts + 1, delivered_at = ? WHERE id = ?"
# A delivery failed and is tried again later.
RETRY_DELIVERY = "UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = ? WHERE id = ?"
# A delivery failed its last try.
GIVE_UP_DELIVERY = "UPDATE deliveries SET status = 'failed', attempts = attempts + 1 WHERE id = ?"
# An endpoint answered 2xx: it is not failing.
ENDPOINT_SUCCEEDED = "UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ? AND failing_since IS NOT NULL"
# An endpoint failed: remember since when, unless it was failing already.
ENDPOINT_FAILED = "UPDATE webhook_endpoints SET failing_since = ? WHERE id = ? AND failing_since IS NULL"
# Disable an endpoint that has failed since before the cut-off.
DISABLE_FAILING_ENDPOINT = "UPDATE webhook_endpoints SET enabled = ?, disabled_reason = ?, updated_at = ? WHERE id = ? AND enabled = ? AND failing_since <= ?"
# Disable an endpoint at once (it answered 410 Gone), whatever else it answered.
DISABLE_ENDPOINT = "UPDATE webhook_endpoints SET enabled = ?, disabled_reason = ?, updated_at = ? WHERE id = ? AND enabled = ?"
# --- the suppression sync to mail providers (services/provider_sync.py)
# Whether the live holder of an email address has stopped marketing by email (a channel or all-marketing stop).
EMAIL_HOLDER_STOPPED = """
SELECT r.id, count(c.topic) FROM recipients r
LEFT JOIN choices c ON c.recipient_pk = r.pk AND c.topic = '*' AND c.channel IN ('*', 'email') AND c.subscribed = ?
WHERE r.email = ? AND r.status <> 'erased' GROUP BY r.id
"""
# The providers that reported something about these addresses (a bounce, complaint or unsubscribe of theirs).
PROVIDER_REPORTERS = (
    "SELECT DISTINCT address_hash, provider FROM provider_events WHERE kind <> 'soft_bounce' AND address_hash {in_list}"
)
# A push of one address to one target (the fan-out of a `sync` outbox message).
INSERT_PROVIDER_SYNC = (
    "INSERT INTO provider_syncs (target, action, address_hash, email, recipient_id, reported_here, status, attempts,"
    " last_error, next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, NULL, ?, ?, ?)"
)
# Due pushes to one target, each the oldest pending one of its address there (an address's pushes arrive in order).
DUE_PROVIDER_SYNCS = """
SELECT s.id, s.target, s.action, s.email, s.attempts FROM provider_syncs s
WHERE s.status = 'pending' AND s.target = ? AND s.next_attempt_at <= ?
  AND NOT EXISTS (SELECT 1 FROM provider_syncs p WHERE p.target = s.target AND p.address_hash = s.address_hash
                  AND p.status = 'pending' AND p.id < s.id)
ORDER BY s.id LIMIT ?
"""
# PostgreSQL: the same, locked; rows another worker holds are skipped.
DUE_PROVIDER_SYNCS_POSTGRES = DUE_PROVIDER_SYNCS.rstrip() + " FOR UPDATE OF s SKIP LOCKED"
# A push the target accepted: done, and the address is no longer kept.
PROVIDER_SYNC_DONE = "UPDATE provider_syncs SET status = 'done', attempts = attempts + 1, last_error = NULL, email = NULL, updated_at = ? WHERE id = ?"
# A push failed and is tried again later.
PROVIDER_SYNC_RETRY = (
    "UPDATE provider_syncs SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?, updated_at = ? WHERE id = ?"
)
# Retention: finished pushes (receipts, and a failed push's address) older than the cut-off, a batch at a time.
PRUNE_PROVIDER_SYNCS = (
    "DELETE FROM provider_syncs WHERE id IN (SELECT id FROM provider_syncs WHERE status <> 'pending' AND updated_at < ? LIMIT ?)"
)
# A push failed its last try.
PROVIDER_SYNC_FAILED = (
    "UPDATE provider_syncs SET status = 'failed', attempts = attempts + 1, last_error = ?, updated_at = ? WHERE id = ?"
)
# Cache coherence (db/generations.py): every process's view of which cached tables changed.
CACHE_GENERATIONS = "SELECT name, generation FROM cache_generations"
# A change to a cached table (topics, API keys), in its own transaction: every process drops that cache.
BUMP_CACHE_GENERATION = "UPDATE cache_generations SET generation = generation + 1 WHERE name = ?"


# --- Outbound email (SPEC §14; services/mail.py, services/mail_delivery.py) ---------------------------------
# Fan-out: an `email` outbox message becomes a message to send.
INSERT_OUTBOUND_MAIL = (
    "INSERT INTO outbound_mails (template, ordering_key, payload, status, attempts, last_code, last_error,"
    " next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, 'pending', 0, NULL, NULL, ?, ?, ?)"
)
# Due messages, each the oldest pending one of its ordering key (one person's messages leave in commit order),
# with the status and address of the recipient the key names (services/mail_delivery.py sends only to them).
DUE_OUTBOUND_MAILS = """
SELECT m.id, m.payload, m.attempts, r.status, r.email FROM outbound_mails m
LEFT JOIN recipients r ON r.id = m.ordering_key
WHERE m.status = 'pending' AND m.next_attempt_at <= ?
  AND NOT EXISTS (SELECT 1 FROM outbound_mails p WHERE p.ordering_key = m.ordering_key
                  AND p.status = 'pending' AND p.id < m.id)
ORDER BY m.id LIMIT ?
"""
# PostgreSQL: the same, locked; rows another worker holds are skipped.
DUE_OUTBOUND_MAILS_POSTGRES = DUE_OUTBOUND_MAILS.rstrip() + " FOR UPDATE OF m SKIP LOCKED"
# The relay took the message: sent, and the address and message are no longer kept.
OUTBOUND_MAIL_SENT = (
    "UPDATE outbound_mails SET status = 'sent', attempts = attempts + 1, payload = NULL, last_code = ?, last_error = NULL,"
    " updated_at = ? WHERE id = ?"
)
# A message not sent, and never to be: (last_error, updated_at, id). Neither address nor message is kept.
OUTBOUND_MAIL_CANCELLED = (
    "UPDATE outbound_mails SET status = 'cancelled', payload = NULL, last_error = ?, updated_at = ? WHERE id = ?"
)
# A message failed and is tried again later.
OUTBOUND_MAIL_RETRY = (
    "UPDATE outbound_mails SET attempts = attempts + 1, last_code = ?, last_error = ?, next_attempt_at = ?, updated_at = ?"
    " WHERE id = ?"
)
# A message failed its last try, or was refused for good: failed, and the address and message are not kept.
OUTBOUND_MAIL_FAILED = (
    "UPDATE outbound_mails SET status = 'failed', attempts = attempts + 1, payload = NULL, last_code = ?, last_error = ?,"
    " updated_at = ? WHERE id = ?"
)
# Retention: the ids of inbound texts (services/sms.py) older than the cut-off, a batch at a time.
PRUNE_INBOUND_TEXTS = (
    "DELETE FROM inbound_texts WHERE message_sid IN (SELECT message_sid FROM inbound_texts WHERE received_at < ? LIMIT ?)"
)
# Retention: Mailgun signature tokens older than the cut-off (each vouches for one event, for five minutes).
PRUNE_MAILGUN_TOKENS = (
    "DELETE FROM mailgun_tokens WHERE token_hash IN (SELECT token_hash FROM mailgun_tokens WHERE seen_at < ? LIMIT ?)"
)
# Retention: finished messages (receipts without address or message) older than the cut-off, a batch at a time.
PRUNE_OUTBOUND_MAILS = (
    "DELETE FROM outbound_mails WHERE id IN (SELECT id FROM outbound_mails WHERE status <> 'pending' AND updated_at < ? LIMIT ?)"
)
