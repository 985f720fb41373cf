"""Entry point for `flask --app app` and `gunicorn app:app`."""

import gc
import sys

from prefs import create_app
from prefs.config import ConfigError

APP_LOAD_ERROR = 4  # gunicorn's exit status for "App failed to load": it stops instead of starting new workers

try:
    app = create_app()
except ConfigError as error:
    # Settings the service must not start with: one line that says which, not a traceback.
    print(f"prefs: not started: {error}", file=sys.stderr)
    sys.exit(APP_LOAD_ERROR)

# What the app loaded at start lives as long as the process: gc.freeze() keeps the collector from walking it
# again in every full collection, which a big answer's allocations set off (a year of the insights page by
# topic took 120 ms instead of 35: docs/performance.md, Insights). gunicorn imports this in each worker.
gc.freeze()
