"""Insights (issue 19, acceptance 2): the console dashboard's questions on 10,000,000 consent events answer in
under 100 ms each, and the worker's roll-up keeps up with 1,000 events a second.

    .venv/bin/python bench/insights.py                          # PostgreSQL, 10,000,000 events (builds it)
    .venv/bin/python bench/insights.py --reuse                  # keep a database already built and folded
    .venv/bin/python bench/insights.py --sqlite --events 1000000  # the same on SQLite (a file in /tmp)

PostgreSQL: database prefs_bench_insights on 127.0.0.1, dropped and rebuilt unless --reuse finds it holding
exactly the events asked for. The schema comes from the real migrations; 1,000,000 recipients (bench/dataset.py:
choices, channel and all-marketing stops, suppressions), monthly partitions for the year; then the events,
set-based (INSERT … SELECT over generate_series, 1,000,000 a statement), spread evenly over the last 365 days
(ids in time order, as the app writes them): 20 topics, 4 channels, 8 ways (`via`), about 2,000 campaigns —
each campaign on one topic and channel, its link events (one-click, unsubscribe page, preference center, undo)
trailing its send day by up to a month. SQLite gets the same mix from a Python generator.

Measured, in this order:
1. the first fold (services/insights.refresh in its default batches, as the worker runs it): events a second;
2. each question the dashboard asks (prefs/console/insights.py), over its default 30 days and over a whole
   year: p50 and max of --repeat runs after one to warm up (the roll-up's pages then in memory, as on a server
   whose dashboard is used). A max far above the p50 is CPython's full garbage collection of the whole process
   (tens of ms here), set off by a big answer's allocations: --freeze-gc moves what the app loaded at start out
   of its reach (gc.freeze(), as a server can do once it has started) to show the questions without it;
3. PostgreSQL: a writer adding events at --rate a second (transactions of 10, each under the event write lock as
   the app's writes are) for --seconds, while a fold runs every second as the worker's does (0.5 s slices):
   events written and folded a second, and the largest lag seen.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from dataset import SETTINGS, build  # noqa: E402

SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
DATABASE = "prefs_bench_insights"
RECIPIENTS = 1_000_000
TOPICS = 20
CAMPAIGNS = 2000
DAYS = 365
CHUNK = 1_000_000
USER_AGENT = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"

# One event per g in [lo, hi] of n, at first + g/n of `span`, on day day0 + g/n of `days` (the campaigns'
# clock). u picks the way (via), v and w the rest. Campaign c was sent on day c * DAYS / CAMPAIGNS; its link
# events come up to about a month later.
EVENTS_SQL = f"""
INSERT INTO consent_events (at, recipient_id, actor, actor_id, via, kind, topic, channel, before, after, reason, evidence)
SELECT at, 'r' || (1 + mod(g * 7919, %(recipients)s)),
       CASE WHEN via IN ('api') THEN 'api' WHEN via = 'console' THEN 'staff' WHEN via = 'keyword:STOP' THEN 'sms'
            WHEN via = 'complaint:sendgrid' THEN 'provider' ELSE 'recipient' END,
       CASE WHEN via = 'api' THEN 'mailer' WHEN via = 'console' THEN 'agent@example.com'
            WHEN via = 'complaint:sendgrid' THEN 'sendgrid' END,
       via, kind,
       CASE WHEN kind = 'topic_choice' THEN topic END,
       CASE WHEN kind <> 'all_marketing' THEN channel END,
       before, after, NULL,
       CASE WHEN campaign IS NOT NULL THEN json_build_object('message_id', 'campaign-' || campaign,
                 'ip', '203.0.113.' || mod(g, 250), 'user_agent', '{USER_AGENT}')
            WHEN via = 'api' THEN json_build_object('source', 'crm sync', 'collected_at', at) END
FROM (
    SELECT g, at, via, campaign,
           'topic-' || lpad((1 + mod(coalesce(campaign, g * 31), {TOPICS}))::text, 2, '0') AS topic,
           CASE WHEN via = 'keyword:STOP' THEN 'sms' WHEN via = 'complaint:sendgrid' THEN 'email'
                WHEN campaign IS NOT NULL THEN CASE WHEN mod(campaign, 10) = 0 THEN 'sms' ELSE 'email' END
                ELSE (ARRAY['email', 'email', 'sms', 'phone', 'post'])[1 + mod(g * 13, 5)] END AS channel,
           CASE WHEN via = 'keyword:STOP' THEN 'sms_stop'
                WHEN via = 'complaint:sendgrid' OR (via IN ('one_click', 'confirm_page') AND v < 0.2) THEN 'channel_stop'
                WHEN via = 'console' AND v < 0.05 THEN 'all_marketing'
                ELSE 'topic_choice' END AS kind,
           CASE WHEN via = 'keyword:STOP' THEN to_json(w < 0.1)
                WHEN via = 'undo' THEN 'false'::json
                WHEN via IN ('preference_center', 'api', 'console') AND w < 0.3 THEN to_json(w >= 0.15) END AS before,
           CASE WHEN via = 'keyword:STOP' THEN to_json(w >= 0.1)
                WHEN via = 'undo' THEN NULL
                WHEN via IN ('one_click', 'confirm_page', 'complaint:sendgrid') THEN 'false'::json
                WHEN via = 'api' THEN to_json(v < 0.6)
                ELSE to_json(v < 0.4) END AS after
    FROM (
        SELECT g, at, u, v, w,
               CASE WHEN u < 0.35 THEN 'one_click' WHEN u < 0.43 THEN 'confirm_page' WHEN u < 0.55 THEN 'preference_center'
                    WHEN u < 0.58 THEN 'undo' WHEN u < 0.78 THEN 'api' WHEN u < 0.85 THEN 'console'
                    WHEN u < 0.95 THEN 'keyword:STOP' ELSE 'complaint:sendgrid' END AS via,
               CASE WHEN u < 0.58 THEN greatest(0, floor(day * {CAMPAIGNS} / {DAYS}) - floor(v * v * 60))::int END AS campaign
        FROM (
            SELECT g, %(first)s::timestamptz + (g::float8 / %(n)s) * %(span)s::interval AS at,
                   %(day0)s + (g::float8 / %(n)s) * %(days)s AS day, random() AS u, random() AS v, random() AS w
            FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS g
        ) AS drawn
    ) AS ways
) AS events
"""


def psql_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def app_for(database_url: str):
    from prefs import create_app

    return create_app({**SETTINGS, "PREFS_DATABASE_URL": database_url, "PREFS_DATABASE_STATEMENT_TIMEOUT_SECONDS": "600"})


def events_in(database_url: str) -> int:
    import psycopg

    try:
        with psycopg.connect(psql_url(database_url)) as connection:
            return connection.execute("SELECT count(*) FROM consent_events").fetchone()[0]
    except psycopg.Error:
        return -1


def build_postgres(database_url: str, n: int, recipients: int, first: datetime) -> None:
    import psycopg

    from prefs.extensions import db
    from prefs.services.partitions import ensure_event_partitions

    started = time.perf_counter()
    build(database_url, recipients)  # drops and migrates the database first
    app = app_for(database_url)
    with app.app_context():
        ensure_event_partitions(first, months_ahead=15)
        db.session.commit()
        db.engine.dispose()
    with psycopg.connect(psql_url(database_url), autocommit=True) as connection:
        for lo in range(1, n + 1, CHUNK):
            hi = min(lo + CHUNK - 1, n)
            spread = {"first": first, "span": f"{DAYS} days", "day0": 0, "days": DAYS}
            connection.execute(EVENTS_SQL, {**spread, "n": n, "lo": lo, "hi": hi, "recipients": recipients})
            print(f"  {hi:,} events", flush=True)
        connection.execute("VACUUM (ANALYZE)")
    print(f"built: {recipients:,} recipients and {n:,} events in {time.perf_counter() - started:.0f} s", flush=True)


def build_sqlite(database_url: str, n: int, recipients: int, first: datetime) -> None:
    """The same mix as EVENTS_SQL, drawn in Python (SQLite has no generate_series)."""
    import json
    import random
    import sqlite3

    started = time.perf_counter()
    build(database_url, recipients)
    rng = random.Random(19)
    connection = sqlite3.connect(database_url.split("///", 1)[1])
    connection.execute("PRAGMA synchronous=OFF")
    insert = (
        "INSERT INTO consent_events (at, recipient_id, actor, actor_id, via, kind, topic, channel, before, after, reason, "
        "evidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)"
    )
    ways = [(0.35, "one_click"), (0.43, "confirm_page"), (0.55, "preference_center"), (0.58, "undo"), (0.78, "api"),
            (0.85, "console"), (0.95, "keyword:STOP"), (1.0, "complaint:sendgrid")]  # fmt: skip
    actors = {"api": ("api", "mailer"), "console": ("staff", "agent@example.com"), "keyword:STOP": ("sms", None),
              "complaint:sendgrid": ("provider", "sendgrid")}  # fmt: skip
    batch = []
    for g in range(1, n + 1):
        at = first + timedelta(days=DAYS * g / n)
        day = DAYS * g / n
        u, v, w = rng.random(), rng.random(), rng.random()
        via = next(name for bound, name in ways if u < bound)
        campaign = max(0, int(day * CAMPAIGNS / DAYS) - int(v * v * 60)) if u < 0.58 else None
        topic = f"topic-{1 + (campaign if campaign is not None else g * 31) % TOPICS:02d}"
        if via == "keyword:STOP":
            channel = "sms"
        elif via == "complaint:sendgrid":
            channel = "email"
        elif campaign is not None:
            channel = "sms" if campaign % 10 == 0 else "email"
        else:
            channel = ("email", "email", "sms", "phone", "post")[(g * 13) % 5]
        if via == "keyword:STOP":
            kind, before, after = "sms_stop", w < 0.1, w >= 0.1
        else:
            stop = via == "complaint:sendgrid" or (via in ("one_click", "confirm_page") and v < 0.2)
            kind = "channel_stop" if stop else "all_marketing" if via == "console" and v < 0.05 else "topic_choice"
            before = (
                False if via == "undo" else (w >= 0.15) if via in ("preference_center", "api", "console") and w < 0.3 else None
            )
            after = (
                None
                if via == "undo"
                else False
                if via in ("one_click", "confirm_page", "complaint:sendgrid")
                else v < (0.6 if via == "api" else 0.4)
            )
        if campaign is not None:
            evidence = {"message_id": f"campaign-{campaign}", "ip": f"203.0.113.{g % 250}", "user_agent": USER_AGENT}
        else:
            evidence = {"source": "crm sync", "collected_at": at.isoformat()} if via == "api" else None
        actor, actor_id = actors.get(via, ("recipient", None))
        batch.append((at.strftime("%Y-%m-%d %H:%M:%S.%f"), f"r{1 + (g * 7919) % recipients}", actor, actor_id, via, kind,
                      topic if kind == "topic_choice" else None, None if kind == "all_marketing" else channel,
                      None if before is None else json.dumps(before), None if after is None else json.dumps(after),
                      None if evidence is None else json.dumps(evidence)))  # fmt: skip
        if len(batch) == 100_000:
            connection.executemany(insert, batch)
            connection.commit()
            batch = []
    connection.executemany(insert, batch)
    connection.commit()
    connection.execute("ANALYZE")
    connection.close()
    print(f"built: {recipients:,} recipients and {n:,} events in {time.perf_counter() - started:.0f} s", flush=True)


def first_fold(app) -> None:
    from sqlalchemy import func, select

    from prefs.extensions import db
    from prefs.models import InsightDaily
    from prefs.services import insights

    with app.app_context():
        started = time.perf_counter()
        folded = insights.refresh()
        seconds = time.perf_counter() - started
        rows = db.session.execute(select(func.count()).select_from(InsightDaily)).scalar_one()
        active = insights.active_recipients()
    print(f"first fold: {folded:,} events in {seconds:.1f} s = {folded / seconds:,.0f} events/s "
          f"(batches of {insights.FOLD_BATCH:,}; active recipients counted at the end); insight_daily holds {rows:,} rows; "
          f"active recipients {active}", flush=True)  # fmt: skip


def dashboard_questions(end: date, days: int) -> list[tuple[str, object]]:
    """What the console's insights page asks for a range (prefs/console/insights.py), by name."""
    from prefs.services import insights

    start = end - timedelta(days=days - 1)
    return [
        ("stats(day, channel)", lambda: insights.stats(start, end, ("day", "channel"))),
        ("stats(day, topic)", lambda: insights.stats(start, end, ("day", "topic"))),
        (
            "stats(message_id) top 10 by opt_outs",
            lambda: insights.stats(start, end, ("message_id",), order_by="opt_outs", limit=10),
        ),
        ("stats(via)", lambda: insights.stats(start, end, ("via",))),
        ("stats(channel)", lambda: insights.stats(start, end, ("channel",))),
        ("stats(day)", lambda: insights.stats(start, end, ("day",))),
        ("totals", lambda: insights.totals(start, end)),
        ("without_message_id", lambda: insights.without_message_id(start, end)),
        ("opt_out_rates", lambda: insights.opt_out_rates(start, end)),
        ("active_recipients", insights.active_recipients),
        ("active_recipients_as_of", insights.active_recipients_as_of),
    ]


def time_questions(app, end: date, repeat: int) -> list[tuple[int, str, float, float, int]]:
    from prefs.extensions import db

    results = []
    with app.app_context():
        for days in (30, DAYS):
            for name, ask in dashboard_questions(end, days):
                answer = ask()  # warm-up
                samples = []
                for _ in range(repeat):
                    started = time.perf_counter()
                    ask()
                    samples.append((time.perf_counter() - started) * 1000)
                    db.session.rollback()  # each question in a transaction of its own, as each page view's
                size = len(answer) if isinstance(answer, list | dict) else 1
                results.append((days, name, statistics.median(samples), max(samples), size))
    return results


def keep_up(database_url: str, app, recipients: int, rate: int, seconds: float) -> None:
    """A writer at `rate` events a second while the worker's fold runs every second in 0.5 s slices."""
    import psycopg

    from prefs.extensions import db
    from prefs.services import insights
    from prefs.services.events import EVENT_WRITE_LOCK

    stop = threading.Event()
    written = [0]

    def writer() -> None:
        with psycopg.connect(psql_url(database_url)) as connection:
            per_transaction = 10
            g = 10_000_000_000
            started = time.perf_counter()
            while not stop.is_set():
                with connection.transaction():
                    connection.execute("SELECT pg_advisory_xact_lock(%s)", (EVENT_WRITE_LOCK,))
                    now = {"first": datetime.now(UTC), "span": "0 days", "day0": DAYS, "days": 0}  # today's campaigns
                    span = {"n": 1, "lo": g, "hi": g + per_transaction - 1, "recipients": recipients}
                    connection.execute(EVENTS_SQL, {**now, **span})
                g += per_transaction
                written[0] += per_transaction
                ahead = written[0] / rate - (time.perf_counter() - started)
                if ahead > 0:
                    time.sleep(ahead)

    with app.app_context():
        insights.refresh()  # caught up before the writer starts
        from sqlalchemy import func, select

        from prefs.models import ConsentEvent, InsightState

        def lag() -> int:
            newest = db.session.execute(select(func.max(ConsentEvent.id))).scalar_one()
            folded = db.session.execute(select(InsightState.value).where(InsightState.name == "events")).scalar_one()
            db.session.rollback()
            return newest - folded

        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        started = time.perf_counter()
        folded, lags, fold_seconds = 0, [], 0.0
        while time.perf_counter() - started < seconds:
            round_started = time.perf_counter()
            folded += insights.refresh(budget_seconds=0.5, active_every_seconds=insights.ACTIVE_EVERY_SECONDS)
            fold_seconds += time.perf_counter() - round_started
            lags.append(lag())
            time.sleep(max(0.0, 1.0 - (time.perf_counter() - round_started)))
        elapsed = time.perf_counter() - started
        stop.set()
        thread.join()
        folded += insights.refresh()
        left = lag()
    print(f"keeping up: {written[0]:,} events written in {elapsed:.0f} s = {written[0] / elapsed:,.0f}/s; folded "
          f"{folded:,} = {folded / elapsed:,.0f}/s; fold busy {fold_seconds:.1f} s of {elapsed:.0f} s "
          f"({written[0] / max(fold_seconds, 1e-9):,.0f} events per second of folding); lag after each fold: median "
          f"{statistics.median(lags):,.0f} events, max {max(lags):,}; {left} left at the end", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--recipients", type=int, default=RECIPIENTS, help="(SQLite: a tenth by default)")
    parser.add_argument("--reuse", action="store_true", help="keep a database that already holds --events events")
    parser.add_argument("--sqlite", action="store_true", help="SQLite in /tmp instead of PostgreSQL")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--rate", type=int, default=2000, help="events a second written while folding (PostgreSQL)")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the writer writes (0: not at all)")
    parser.add_argument("--freeze-gc", action="store_true", help="gc.freeze() once the app has started")
    args = parser.parse_args()
    today = datetime.now(UTC).date()
    first = datetime.combine(today - timedelta(days=DAYS), datetime.min.time(), UTC)
    if args.sqlite:
        url = "sqlite:////tmp/prefs_bench_insights.sqlite3"
        if not (args.reuse and os.path.exists(url[10:])):
            if os.path.exists(url[10:]):
                os.remove(url[10:])
            build_sqlite(url, args.events, args.recipients // 10 if args.recipients == RECIPIENTS else args.recipients, first)
    else:
        url = f"{SERVER}/{DATABASE}"
        if not (args.reuse and events_in(url) >= args.events):
            build_postgres(url, args.events, args.recipients, first)
    app = app_for(url)
    first_fold(app)
    if args.freeze_gc:
        gc.collect()
        gc.freeze()
    frozen = ", gc frozen" if args.freeze_gc else ""
    print(
        f"questions ({'SQLite' if args.sqlite else 'PostgreSQL'}, {args.events:,} events{frozen}), p50 / max of {args.repeat} runs:"
    )
    for days, name, p50, worst, size in time_questions(app, today, args.repeat):
        print(f"  {days:>3} days  {name:<40} {p50:7.2f} ms  {worst:7.2f} ms  ({size} rows)", flush=True)
    if not args.sqlite and args.seconds > 0:
        keep_up(url, app, args.recipients, args.rate, args.seconds)


if __name__ == "__main__":
    main()
