"""What request lines may say in a log (SPEC §10, S2), written once for every server that logs them:
gunicorn's access and error logs (gunicorn.conf.py) and werkzeug's request lines (`flask --app app serve`,
`flask run`, the test servers; installed by prefs/logs.py).

- the token in a /u/…, /p/… or /c/… path becomes "…", however the path is spelled (`/%75/…`, `/u%2F…`): a
  token in a log is a working unsubscribe, preference or confirmation link for anyone who reads the log;
- no query string is logged, on any path: `?…` stands for it. Searches (`/api/v1/recipients?email=…`,
  `/console/?q=…`) put addresses there, and a path-by-path list would miss the next search or another
  spelling of the path;
- a path step that holds "@" or "+" (or a blank or a bracket, percent-encoded) becomes "…": no id, route or
  token has one, so it is an address someone put where an id goes (`/api/v1/recipients/ann@example.com`,
  `/console/recipients/+14155550123`), refused by the service but written to the log all the same;
- a request line gunicorn refuses ("Invalid request from ip=…") is named, not quoted;
- the client's IP address, personal data of a person on the pages, is not logged either: the address that
  starts a request line (werkzeug's, or a gunicorn format that puts `%(h)s` first) and the `ip=` of a refused
  line become "-". The rate limits keep their counts in their own storage, for an hour at most.
Redaction works on the finished line, so a changed log format is redacted too.
"""

from __future__ import annotations

import logging
import re

# "/", then "u", "p" or "c" in any case and percent-encoding, "/" in any percent-encoding (werkzeug decodes
# the path before routing, so each spelling reaches the page), then the token: everything up to the next
# "/", "?", "#" or blank.
_SLASH = r"(?:/|%(?:25)*2f)"
_PAGE = r"(?:[upc]|%(?:25)*(?:7[05]|5[05]|63|43))"
_TOKEN_PATH = re.compile(rf"({_SLASH}{_PAGE}{_SLASH})[^\s/?#]+", re.IGNORECASE)
_QUERY = re.compile(r"\?\S*")
# A path step (after "/", up to the next "/", "?", "#", blank or quote) with "@", "+", or their (or a blank's
# or a bracket's) percent-encoding.
_ADDRESS_STEP = re.compile(r"(?<=/)[^\s/?#\"']*(?:@|\+|%(?:25)*(?:40|2b|20|28|29))[^\s/?#\"']*", re.IGNORECASE)
# gunicorn's "Invalid request from ip=<ip>: <error>" (the ip ends at the first ": "; an IPv6 one has colons but
# no blank): the error's words up to a colon or a quote are kept, what follows them (the line, a header, a
# proxy's address: "Proxy request from '…' not allowed") is not.
_REFUSED_LINE = re.compile(r"^Invalid request from ip=.*?: ([^:'\"]*)(.*)$", re.DOTALL)
# An IPv4 or IPv6 address (two colons at least, so that no word such as "Bad:" is taken for one) that starts
# a line, before a blank.
_LEADING_IP = re.compile(r"^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f.]{0,15}){2,8}(?:%\w+)?)(?= )")
_HEX_OR_COLON = frozenset("0123456789abcdefABCDEF:")


def redact(line: str) -> str:
    if line.startswith("Invalid request from"):
        refused = _REFUSED_LINE.match(line)
        if refused is None:
            return "Invalid request from ip=-: (not logged)"
        what, rest = refused.groups()
        return f"Invalid request from ip=-: {what.strip()}" + (": (not logged)" if rest else "")
    elif line[:1] in _HEX_OR_COLON:
        line = _LEADING_IP.sub("-", line)
    if "?" in line:  # most lines (the API's POSTs) have no query string: skip that pass
        line = _QUERY.sub("?…", line)
    line = _TOKEN_PATH.sub(r"\1…", line)
    return _ADDRESS_STEP.sub("…", line) if ("@" in line or "+" in line or "%" in line) else line


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        if record.exc_info and record.exc_info[1] is not None:
            # gunicorn's "Error handling request" comes with the exception, whose further lines may quote data
            # (psycopg's DETAIL: Key (email)=(…)): its frames, and each error's first line only, as the app's own.
            from .logs import scrubbed_traceback  # prefs.logs imports this module

            record.msg = f"{record.msg}\n{redact(scrubbed_traceback(record.exc_info[1]))}"
            record.exc_info, record.exc_text = None, None
        return True


def redact_werkzeug_request_lines() -> None:
    """werkzeug's own request lines through redact(), once per process however many apps are made."""
    logger = logging.getLogger("werkzeug")
    if not any(isinstance(existing, RedactingFilter) for existing in logger.filters):
        logger.addFilter(RedactingFilter())
