"""gunicorn settings for prefs: `gunicorn -c gunicorn.conf.py app:app`.

Access logs are on, but the signed token in /u/… and /p/… paths is replaced by "…": a token in a log is
a working unsubscribe link for anyone who reads the log (SPEC §10, S2).
"""
import os
import re

from gunicorn.glogging import Logger

bind = os.environ.get("PREFS_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("PREFS_WORKERS", "4"))
accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'

_TOKEN_PATH = re.compile(r"/(u|p)/[^/\s?]+")


class RedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for name in ("r", "U"):
            if isinstance(atoms.get(name), str):
                atoms[name] = _TOKEN_PATH.sub(r"/\1/…", atoms[name])
        return atoms


logger_class = RedactingLogger
