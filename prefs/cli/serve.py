"""`flask --app app serve`: everything a user needs on one machine, in one command: the web server and a
delivery worker beside it (a child process in the same process group, so Ctrl-C stops both).

For development and trying prefs out; production runs gunicorn and `flask --app app worker` as two services
(README "Running in production").
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys

import click
from flask import Flask, current_app
from flask.cli import ScriptInfo, with_appcontext
from werkzeug.serving import make_server

from .. import say_what_is_off


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@with_appcontext
def serve(host: str, port: int) -> None:
    """Run the web server and a delivery worker until Ctrl-C."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    # Bound before anything says "ready" or a worker starts. A port that cannot be had (in use, not allowed)
    # ends the command here: werkzeug says why in plain words and exits with status 1.
    server = make_server(host, port, app, threaded=True)
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{server.server_port}"  # noqa: S104 (a name, not a bind)
    if "PREFS_BASE_URL" not in os.environ:  # development's default names port 5000: links must reach this one
        _use_base_url(app, url)
    say_what_is_off(app)
    app_path = click.get_current_context().ensure_object(ScriptInfo).app_import_path or "app"
    # The operator's own --app and interpreter, no shell: nothing here comes from a request.
    # Ctrl-C stops both even when a shell started this in the background (which makes it ignore SIGINT, and
    # Python keeps an ignored SIGINT ignored), and SIGTERM (a service manager's stop) takes the same way out
    # rather than ending this process alone and leaving the worker running. The worker, started after, keeps
    # its own SIGTERM handling.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _stop)
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", app_path, "worker"], env=os.environ.copy())  # noqa: S603
    click.echo(f"prefs is ready at {url}/ (worker pid {worker.pid}); Ctrl-C stops both", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        worker.terminate()  # SIGTERM: the worker finishes the batch in hand
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()


def _use_base_url(app: Flask, url: str) -> None:
    """Links, forms and mails name the address this server listens on; the worker (which sends the mails) is
    told through its environment."""
    app.config["PREFS_BASE_URL"] = url
    app.extensions["prefs"] = dataclasses.replace(app.extensions["prefs"], base_url=url)
    os.environ["PREFS_BASE_URL"] = url


def _stop(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt
