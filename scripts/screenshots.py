#!/usr/bin/env python
"""Screenshots of the recipient pages for docs/screenshots/ (issue 13, acceptance 5): the confirm page (/u),
the preference center (/p) and an error page (a link that does not work), in English and Arabic, at phone
width (390×844, full page).

Starts prefs on a temporary SQLite database with sample data (a brand, two marketing topics and the
mandatory one, one person with an email address and a phone number), serves it on a free loopback port and
drives Debian's headless Chromium with Playwright, as the browser tests do (tests/browser.py). Needs the dev
requirements, `chromium` and a Devanagari font for the language menu's हिन्दी (apt-get install chromium
fonts-lohit-deva). Run from the repository, then look at the pictures and commit them:

    .venv/bin/python scripts/screenshots.py            # writes docs/screenshots/*.png
    .venv/bin/python scripts/screenshots.py OUT_DIR    # somewhere else
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from prefs import create_app  # noqa: E402
from prefs.extensions import db  # noqa: E402

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
LANGUAGES = ("en", "ar")
SETTINGS = {
    "PREFS_ENV": "production",
    "PREFS_SECRET_KEYS": "screenshots-only-signing-key",
    "PREFS_SUPPRESSION_KEY": "screenshots-only-suppression-key",
    "PREFS_BASE_URL": "https://prefs.example.com",
    "PREFS_BRAND_NAME": "Acme Energy",
    "PREFS_BRAND_COLOR": "#1d5c4d",
    "PREFS_PRIVACY_URL": "https://acme.example/privacy",
    "PREFS_CONTACT": "help@acme.example",
    "PREFS_SMS_PROGRAM_NAME": "Acme",
    "PREFS_QUIET_HOURS": "",
}
TOPICS = [
    {
        "key": "newsletter",
        "name": "Monthly newsletter",
        "description": "News, tips and stories, once a month.",
        "names": {"ar": "النشرة الشهرية", "es": "Boletín mensual", "de": "Monatlicher Newsletter"},
        "descriptions": {"ar": "أخبار ونصائح وقصص، مرة في الشهر."},
        "channels": ["email", "sms"],
        "default_subscribed": {"email": True, "sms": False},
    },
    {
        "key": "offers",
        "name": "Offers",
        "description": "Discounts on plans and devices.",
        "names": {"ar": "العروض"},
        "descriptions": {"ar": "خصومات على الباقات والأجهزة."},
        "channels": ["email"],
        "default_subscribed": {"email": True},
    },
]

MANDATORY_NAMES = {
    "billing": {"ar": "الفواتير", "es": "Facturación"},
    "service": {"ar": "رسائل الخدمة", "es": "Mensajes del servicio"},
}


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        sys.exit("needs Debian's chromium: apt-get install chromium")
    return found


@contextmanager
def served(app) -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # request lines would carry the sample links
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def sample_links(app) -> dict[str, str]:
    """The sample data, made through the API as a client would; the links' paths."""
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        db.engine.dispose()
    key = app.test_cli_runner().invoke(args=["keys", "create", "screenshots", "--scope", "admin"]).output.strip().splitlines()[-1]
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}

    def call(method: str, path: str, body: dict) -> dict:
        response = client.open("/api/v1" + path, method=method, json=body, headers=headers)
        if response.status_code >= 300:
            sys.exit(f"{method} {path}: {response.status_code} {response.get_json()}")
        return response.get_json()

    for topic in TOPICS:
        call("POST", "/topics", topic)
    for key, names in MANDATORY_NAMES.items():
        call("PATCH", f"/topics/{key}", {"names": names})
    call("PUT", "/recipients/cust-1", {"email": "amira.haddad@example.com", "phone": "+14155550123"})
    links = call("POST", "/links", {"recipient_id": "cust-1", "topic": "newsletter", "channel": "email"})
    return {name: urlparse(links[name]).path for name in ("unsubscribe_url", "preferences_url")}


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        app = create_app({**SETTINGS, "PREFS_DATABASE_URL": f"sqlite:///{work}/prefs.sqlite3"})
        links = sample_links(app)
        pages = {
            "unsubscribe": links["unsubscribe_url"],
            "preferences": links["preferences_url"],
            "error": "/u/this-link-was-cut-short",
        }
        with served(app) as site, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium(), args=["--headless", "--no-sandbox", "--disable-gpu"])
            try:
                page = browser.new_context(**PHONE).new_page()
                for tag in LANGUAGES:
                    for name, path in pages.items():
                        page.goto(f"{site}{path}?lang={tag}")
                        target = out / f"{name}-{tag}.png"
                        page.screenshot(path=str(target), full_page=True)
                        print(target.relative_to(ROOT) if target.is_relative_to(ROOT) else target)
            finally:
                browser.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else ROOT / "docs" / "screenshots")
