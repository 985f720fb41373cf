"""gunicorn settings for prefs: `gunicorn -c gunicorn.conf.py app:app`.

Access logs are on, redacted (SPEC §10, S2), and so is gunicorn's error log, which quotes request lines
it cannot parse:
- the token in a /u/… or /p/… path becomes "…", however the path is spelled (`/%75/…`, `/u%2F…`): a
  token in a log is a working unsubscribe link for anyone who reads the log;
- no query string is logged, on any path: `?…` stands for it. Searches (`/api/v1/recipients?email=…`,
  `/console/?q=…`) put addresses there, and a path-by-path list would miss the next search or another
  spelling of the path;
- a request line gunicorn refuses ("Invalid request from ip=…") is named, not quoted.
Redaction works on the finished line, so a changed access_log_format is redacted too.
"""

import logging
import os
import re
import sys

from gunicorn.glogging import Logger

bind = os.environ.get("PREFS_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("PREFS_WORKERS", "4"))
accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'

# "/", "u" or "p", "/" in any percent-encoding (werkzeug decodes the path before routing, so each spelling
# reaches the page), then the token: everything up to the next "/", "?", "#" or blank.
_SLASH = r"(?:/|%(?:25)*2f)"
_TOKEN_PATH = re.compile(rf"({_SLASH}(?:[up]|%(?:25)*(?:7[05]|5[05])){_SLASH})[^\s/?#]+", re.IGNORECASE)
_QUERY = re.compile(r"\?\S*")
# gunicorn's "Invalid request from ip=…: <what>: <the line, quoted>": keep the what, drop the line.
_REFUSED_LINE = re.compile(r"^(Invalid request from ip=\S+: [^:'\"]*): .*$", re.DOTALL)


def redact(line: str) -> str:
    if line.startswith("Invalid request from"):
        line = _REFUSED_LINE.sub(r"\1: (not logged)", line)
    if "?" in line:  # most lines (the API's POSTs) have no query string: skip that pass
        line = _QUERY.sub("?…", line)
    return _TOKEN_PATH.sub(r"\1…", line)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        return True


class RedactingLogger(Logger):
    def __init__(self, cfg):
        super().__init__(cfg)
        for logger in (self.access_log, self.error_log):
            logger.addFilter(RedactingFilter())


logger_class = RedactingLogger


def on_starting(server):
    """Settings the service must not start with stop the master with one line (as app.py does for flask),
    before a worker starts: a worker that fails to load makes gunicorn halt with a traceback of its own."""
    from prefs import check_settings
    from prefs.config import ConfigError

    try:
        check_settings()
    except ConfigError as error:
        print(f"prefs: not started: {error}", file=sys.stderr)
        sys.exit(4)  # gunicorn's "App failed to load"
