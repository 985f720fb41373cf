"""prefs/log_redaction.py: what a request line may say in a log, whichever server writes it (S2)."""

from __future__ import annotations

import io
import logging

import pytest

from prefs.log_redaction import RedactingFilter, redact, redact_werkzeug_request_lines

TOKEN = "eyJyIjoiY3VzdC0xIn0.aw1NPw.00CMzARQxFVdZrnGlfNBHZhOrso"


@pytest.mark.parametrize(
    ("line", "logged"),
    [
        (f'"GET /u/{TOKEN} HTTP/1.1" 200', '"GET /u/… HTTP/1.1" 200'),
        (f'"POST /u/{TOKEN}/undo HTTP/1.1" 200', '"POST /u/…/undo HTTP/1.1" 200'),
        (f'"GET /p/{TOKEN} HTTP/1.1" 200', '"GET /p/… HTTP/1.1" 200'),
        (f'"POST /c/{TOKEN} HTTP/1.1" 200', '"POST /c/… HTTP/1.1" 200'),  # a double opt-in's confirmation
        (f'"GET /%63/{TOKEN} HTTP/1.1" 200', '"GET /%63/… HTTP/1.1" 200'),
        (f'"GET /%2563%2F{TOKEN} HTTP/1.1" 404', '"GET /%2563%2F… HTTP/1.1" 404'),
        (f'"GET /u%2F{TOKEN} HTTP/1.1" 200', '"GET /u%2F… HTTP/1.1" 200'),
        (f'"GET /%75/{TOKEN}?utm=x HTTP/1.1" 200', '"GET /%75/…?… HTTP/1.1" 200'),
        ('"GET /console/?q=ann%40example.com HTTP/1.1" 200', '"GET /console/?… HTTP/1.1" 200'),
        ('"GET /api/v1/recipients?phone=%2B14155550123 HTTP/1.1" 200', '"GET /api/v1/recipients?… HTTP/1.1" 200'),
        ('"GET /s/newsletter HTTP/1.1" 200', '"GET /s/newsletter HTTP/1.1" 200'),  # a form's name is no secret
        ('"GET /console/recipients/cust-1 HTTP/1.1" 200', '"GET /console/recipients/cust-1 HTTP/1.1" 200'),
        # An address where an id goes (found by this round's review): refused by the service, not logged either.
        ('"GET /api/v1/recipients/ann.leak@example.com HTTP/1.1" 404', '"GET /api/v1/recipients/… HTTP/1.1" 404'),
        (
            '127.0.0.1 "GET /console/recipients/Ann%40Example.com HTTP/1.1" 302 -',
            '- "GET /console/recipients/… HTTP/1.1" 302 -',  # no client IP either
        ),
        ('"GET /api/v1/recipients/+14155550199/preferences HTTP/1.1" 404', '"GET /api/v1/recipients/…/preferences HTTP/1.1" 404'),
        ('"PUT /api/v1/recipients/%2B1%20(415)%20555-0199 HTTP/1.1" 422', '"PUT /api/v1/recipients/… HTTP/1.1" 422'),
        ('"GET /api/v1/topics/news-letter_2 HTTP/1.1" 200', '"GET /api/v1/topics/news-letter_2 HTTP/1.1" 200'),
        (
            '1.2.3.4 - - [30/Nov/2026 13:20:14] "GET /healthz HTTP/1.1" 200 -',
            '- - - [30/Nov/2026 13:20:14] "GET /healthz HTTP/1.1" 200 -',
        ),
        (
            '2001:db8::7 - - [30/Nov/2026 13:20:14] "GET /s/news HTTP/1.1" 200 -',
            '- - - [30/Nov/2026 13:20:14] "GET /s/news HTTP/1.1" 200 -',
        ),
        ('::ffff:192.0.2.9 - - [30/Nov/2026] "GET / HTTP/1.1" 200 -', '- - - [30/Nov/2026] "GET / HTTP/1.1" 200 -'),
        ("Bad: a line that starts with a word and a colon", "Bad: a line that starts with a word and a colon"),
        (
            "Invalid request from ip=127.0.0.1: Invalid HTTP request line: 'GET /u/x ann@example.com'",
            "Invalid request from ip=-: Invalid HTTP request line: (not logged)",
        ),
        # The refusals that quote nothing after their words (found in review: their ip stayed).
        (
            "Invalid request from ip=192.0.2.1: Request Line is too large (5014 > 4094)",
            "Invalid request from ip=-: Request Line is too large (5014 > 4094)",
        ),
        (
            "Invalid request from ip=2001:db8::1: Contradictory scheme headers",
            "Invalid request from ip=-: Contradictory scheme headers",
        ),
        (
            "Invalid request from ip=192.0.2.1: Proxy request from '192.0.2.1' not allowed",
            "Invalid request from ip=-: Proxy request from: (not logged)",
        ),
        ("Invalid request from ip=192.0.2.1", "Invalid request from ip=-: (not logged)"),
    ],
)
def test_redact(line, logged):
    assert redact(line) == logged


def test_werkzeug_request_lines_are_redacted_once_however_many_apps_are_made(app, caplog):
    redact_werkzeug_request_lines()  # create_app did it already; again changes nothing
    werkzeug = logging.getLogger("werkzeug")
    assert sum(isinstance(existing, RedactingFilter) for existing in werkzeug.filters) == 1
    caplog.set_level(logging.INFO, logger="werkzeug")
    werkzeug.info('%s - - [%s] "%s" %s -', "127.0.0.1", "30/Nov/2026", f"GET /c/{TOKEN} HTTP/1.1", "200")
    assert TOKEN not in caplog.text and '"GET /c/… HTTP/1.1" 200' in caplog.text


def test_an_exception_logged_through_the_filter_keeps_its_frames_and_loses_its_data():
    """gunicorn logs "Error handling request <uri>" with the exception (an error that escaped Flask): the filter
    redacted the line and left the traceback, whose error text may quote a row (found in review)."""
    stream = io.StringIO()
    logger = logging.getLogger("test.gunicorn.error")  # as gunicorn.conf.py sets up gunicorn's error log
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    logger.addFilter(RedactingFilter())
    logger.propagate = False

    detail = "DETAIL:  Key (email)=(ann@example.com) already exists."  # not on the raising line: frames quote their source

    def the_failing_step() -> None:
        raise ValueError(f'duplicate key value violates unique constraint "uq_recipients_email"\n{detail}')

    try:
        the_failing_step()
    except ValueError:
        logger.exception("Error handling request %s", f"/u/{TOKEN}?email=ann@example.com")
    finally:
        logger.removeHandler(handler)
    logged = stream.getvalue()
    assert "ann@example.com" not in logged and TOKEN not in logged
    assert "Error handling request /u/…?…" in logged
    assert "in the_failing_step" in logged and "ValueError: duplicate key value violates unique constraint" in logged
