"""Entry point for `flask --app app` and `gunicorn app:app`."""

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
