"""S2 under the production server: gunicorn's access log (gunicorn.conf.py) never shows a link's token."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_access_log_redacts_tokens(database_url, api, newsletter, person, tmp_path):
    url = api.post("/links", {"recipient_id": "cust-1", "topic": "newsletter"}).get_json()["unsubscribe_url"]
    path = url.removeprefix("https://prefs.example.com")
    token = path.rsplit("/", 1)[-1]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PREFS_ENV": "production", "PREFS_DATABASE_URL": database_url, "PREFS_SECRET_KEYS": "test-signing-key-1",
           "PREFS_SUPPRESSION_KEY": "test-suppression-key", "PREFS_BASE_URL": "https://prefs.example.com",
           "PREFS_BIND": f"127.0.0.1:{port}", "PREFS_WORKERS": "1"}  # fmt: skip
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "gunicorn"), "-c", "gunicorn.conf.py", "app:app"],
                                  cwd=ROOT, env=env, stdout=log, stderr=log)  # fmt: skip
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        assert urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5).status == 200
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=b"List-Unsubscribe=One-Click", method="POST")
        assert urllib.request.urlopen(request, timeout=5).status == 200
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)
    logged = log_path.read_text()
    assert '"GET /u/… HTTP/1.1" 200' in logged and '"POST /u/… HTTP/1.1" 200' in logged
    assert token not in logged
