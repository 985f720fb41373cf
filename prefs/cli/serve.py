"""`flask --app app serve`: everything a user needs on one machine, in one command: the web server and a
delivery worker beside it (a child process in the same process group, so Ctrl-C stops both).

For development and trying prefs out; production runs gunicorn and `flask --app app worker` as two services
(README "Running in production").
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import click
from flask import current_app
from flask.cli import ScriptInfo, with_appcontext
from werkzeug.serving import run_simple


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@with_appcontext
def serve(host: str, port: int) -> None:
    """Run the web server and a delivery worker until Ctrl-C."""
    app_path = click.get_current_context().ensure_object(ScriptInfo).app_import_path or "app"
    # The operator's own --app and interpreter, no shell: nothing here comes from a request.
    # Ctrl-C stops both even when a shell started this in the background (which makes it ignore SIGINT, and
    # Python keeps an ignored SIGINT ignored), and SIGTERM (a service manager's stop) takes the same way out
    # rather than ending this process alone and leaving the worker running. The worker, started after, keeps
    # its own SIGTERM handling.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _stop)
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", app_path, "worker"], env=os.environ.copy())  # noqa: S603
    click.echo(f"prefs is ready at http://{host}:{port}/ (worker pid {worker.pid}); Ctrl-C stops both", err=True)
    try:
        run_simple(host, port, current_app._get_current_object(), threaded=True)  # type: ignore[attr-defined]
    finally:
        worker.terminate()  # SIGTERM: the worker finishes the batch in hand
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()


def _stop(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt
