"""The baseline of bench/app_overhead.py: a bare Flask app with one JSON route, nothing else (no
extensions, no hooks), served by the same gunicorn and config as prefs."""

from flask import Flask

app = Flask(__name__)


@app.get("/healthz")
@app.get("/api/v1/ping")
def ping():
    return {"ok": True}
