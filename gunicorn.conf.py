"""gunicorn settings for prefs: `gunicorn -c gunicorn.conf.py app:app`.

Access logs are on, redacted as prefs/log_redaction.py says (no link tokens, no query strings: SPEC §10,
S2), and so is gunicorn's error log, which quotes request lines it cannot parse.
"""

import os
import sys
import tempfile

from gunicorn.glogging import Logger

bind = os.environ.get("PREFS_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("PREFS_WORKERS", "4"))
JSON_LOGS = os.environ.get("PREFS_LOG_FORMAT", "text").strip().lower() == "json"
# JSON logs: the app writes one `request` line per request, with its id (prefs/logs.py), instead of this.
accesslog = None if JSON_LOGS else "-"

# /metrics sums every worker's counts (prometheus_client's multiprocess mode, prefs/metrics.py). The directory
# must be in the environment before any worker imports prometheus_client: here, in the master, first thing.
# Give the delivery worker the same PROMETHEUS_MULTIPROC_DIR so that its deliveries are counted too.
if os.environ.get("PREFS_METRICS_TOKEN"):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
    else:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="prefs-metrics-")
access_log_format = '"%(r)s" %(s)s %(b)s %(M)sms'  # no client IP (prefs/log_redaction.py)

# After the metrics directory is set: importing prefs imports the app's modules.
from prefs.log_redaction import RedactingFilter  # noqa: E402


class RedactingLogger(Logger):
    def __init__(self, cfg):
        super().__init__(cfg)
        for logger in (self.access_log, self.error_log):
            logger.addFilter(RedactingFilter())

    def setup(self, cfg):
        super().setup(cfg)
        if JSON_LOGS:  # gunicorn's own lines (start, stop, refused requests) as JSON too
            from prefs.logs import json_formatter

            for handler in self.error_log.handlers:
                handler.setFormatter(json_formatter())


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
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        from prefs.metrics import forget_dead_processes

        forget_dead_processes(directory, _alive)


def child_exit(server, worker):
    """A worker that exits takes its gauges with it (its counters stay counted)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
