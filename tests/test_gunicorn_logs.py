"""S2 under the production server: gunicorn's access and error logs (gunicorn.conf.py) never show a link's
token, however its path is spelled, nor an email or phone number from a search's query string, nor a
request line gunicorn refused."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

pytest_plugins = ["console_fixtures"]
pytestmark = pytest.mark.slow  # a real gunicorn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EMAIL, PHONE = "Ann@Example.com", "+14155550123"  # the `person` fixture's addresses
CONFIRMATION = "eyJxIjoxfQ.aw1QlA.fzXFy9kfUYDnUEnOcc8HchfP1Eo"  # shaped as a confirmation link's token


class Server:
    """A real gunicorn on a free port, as gunicorn.conf.py configures it, logging to a file."""

    def __init__(self, database_url: str, log_path, workers: int = 1, env: dict[str, str] | None = None) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        env = {**os.environ, "PREFS_ENV": "production", "PREFS_DATABASE_URL": database_url, "PREFS_SECRET_KEYS": "test-signing-key-1",
               "PREFS_SUPPRESSION_KEY": "test-suppression-key", "PREFS_BASE_URL": "https://prefs.example.com",
               "PREFS_BIND": f"127.0.0.1:{self.port}", "PREFS_WORKERS": str(workers), **(env or {})}  # fmt: skip
        self.env = env
        self.log_path = log_path
        with open(log_path, "w") as log:
            self.process = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "gunicorn"), "-c", "gunicorn.conf.py", "app:app"],
                                            cwd=ROOT, env=env, stdout=log, stderr=log)  # fmt: skip
        for _ in range(100):
            try:
                urllib.request.urlopen(self.url("/healthz"), timeout=1)
                return
            except OSError:
                time.sleep(0.1)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def open(
        self, path: str, data: bytes | None = None, headers: dict | None = None, method: str | None = None
    ) -> tuple[int, str, dict]:
        request = urllib.request.Request(self.url(path), data=data, headers=headers or {}, method=method)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode(), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(), dict(error.headers)

    def raw(self, request_line: str) -> bytes:
        """Send bytes no HTTP client would: gunicorn refuses them before the app sees them."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as connection:
            connection.sendall(request_line.encode() + b"\r\nHost: x\r\n\r\n")
            return connection.recv(4096)

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=10)
        return self.log_path.read_text()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def console_search(server: Server, staff: str, password: str, queries: list[str]) -> list[int]:
    """Sign in as a browser would (CSRF token, session cookie) and search the console for each query."""
    status, page, headers = server.open("/console/login")
    cookie = headers["Set-Cookie"].split(";", 1)[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"email": staff, "password": password, "csrf_token": token}).encode()
    login = urllib.request.Request(server.url("/console/login"), data=body, headers={"Cookie": cookie})
    try:
        urllib.request.build_opener(NoRedirect).open(login, timeout=10)
        raise AssertionError("sign-in did not redirect")
    except urllib.error.HTTPError as answer:
        assert answer.code == 303, answer.code
        cookie = answer.headers["Set-Cookie"].split(";", 1)[0]
    return [server.open("/console/?" + urllib.parse.urlencode({"q": query}), headers={"Cookie": cookie})[0] for query in queries]


def test_a_full_scenario_logs_no_token_email_or_phone_in_the_access_or_error_log(
    database_url, api, newsletter, person, make_staff, tmp_path
):
    from console_client import PASSWORD

    staff = make_staff("agent@example.com", "admin")
    links = api.post("/links", {"recipient_id": "cust-1", "topic": "newsletter"}).get_json()
    unsubscribe = links["unsubscribe_url"].removeprefix("https://prefs.example.com")
    preferences = links["preferences_url"].removeprefix("https://prefs.example.com")
    tokens = [unsubscribe.rsplit("/", 1)[-1], preferences.rsplit("/", 1)[-1]]
    key = {"Authorization": f"Bearer {api.key}"}
    server = Server(database_url, tmp_path / "gunicorn.log")
    try:
        # The API's searches put the address in the query string.
        for query in ({"email": EMAIL}, {"email": EMAIL.lower()}, {"phone": PHONE}):
            assert server.open("/api/v1/recipients?" + urllib.parse.urlencode(query), headers=key)[0] == 200
        # The links, as sent and in spellings werkzeug decodes to the same page.
        assert server.open(unsubscribe)[0] == 200
        assert server.open(unsubscribe.replace("/u/", "/%75/"))[0] == 200
        assert server.open(unsubscribe.replace("/u/", "/u%2F"))[0] == 200
        assert server.open(unsubscribe.replace("/u/", "/%75/"), data=b"List-Unsubscribe=One-Click")[0] == 200
        assert server.open(unsubscribe.replace("/u/", "/%75/") + "/undo", data=b"")[0] == 200
        assert server.open(preferences.replace("/p/", "/%70/"))[0] == 200
        for spelling in ("/U/", "/%55/", "/%2575/"):  # not the page, but the token in them still works at /u/
            assert server.open(unsubscribe.replace("/u/", spelling))[0] == 404
        assert server.open(unsubscribe + "?utm_source=" + urllib.parse.quote(EMAIL))[0] == 200
        # A double opt-in's confirmation link (not a valid one: the line it leaves is what counts).
        assert server.open(f"/c/{CONFIRMATION}")[0] in (400, 404, 410)
        assert server.open(f"/%63/{CONFIRMATION}")[0] in (400, 404, 410)
        # The console's search by email and by phone.
        assert console_search(server, staff, PASSWORD, [EMAIL, PHONE]) == [200, 200]
        # Request lines gunicorn refuses; its error log used to quote them.
        assert server.raw(f"GET {unsubscribe} {EMAIL} HTTP/1.1").startswith(b"HTTP/1.1 400")
        assert server.raw(f"GET /console/?q={PHONE}&{tokens[1]}").startswith(b"HTTP/1.1 400")  # no HTTP version
        assert server.raw("GET /" + "a" * 5000 + " HTTP/1.1").startswith(b"HTTP/1.1 414")  # its refusal quotes nothing
    finally:
        logged = server.stop()

    digits = PHONE.lstrip("+")
    for secret in [
        *tokens,
        CONFIRMATION,
        EMAIL,
        EMAIL.lower(),
        urllib.parse.quote(EMAIL),
        urllib.parse.quote(EMAIL.lower()),
        "Ann%40",
        digits,
        digits[1:],
    ]:
        assert secret not in logged, secret
    assert not re.search(r"[\w.+-]+(@|%40)[\w-]+\.[\w.]+", logged, re.IGNORECASE), "an email address was logged"
    # The scenario is in the log, redacted: the scan reads real lines.
    for line in ['"GET /api/v1/recipients?… HTTP/1.1" 200', '"GET /u/… HTTP/1.1" 200', '"GET /%75/… HTTP/1.1" 200',
                 '"POST /%75/…/undo HTTP/1.1" 200', '"GET /console/?… HTTP/1.1" 200', '"GET /c/… HTTP/1.1"', '"GET /%63/… HTTP/1.1"',
                 "Invalid request from ip=-: Invalid HTTP request line: (not logged)"]:  # fmt: skip
        assert line in logged, line
    # Nor the client's IP address (the server's own, in "Listening at", is no one's).
    assert not [line for line in logged.splitlines() if "127.0.0.1" in line and "Listening at" not in line]
