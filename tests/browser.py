"""Real-browser helpers: the app served on a free local port, driven by the system's headless Chromium.

Debian's `chromium` is used (Playwright's own browser download cannot run here); tests skip with a clear
reason when it is missing. `.ci/run` installs it.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from werkzeug.serving import make_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

try:
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - only without the dev requirements
    sync_playwright = None

requires_browser = pytest.mark.skipif(
    CHROMIUM is None or sync_playwright is None,
    reason="needs Debian's chromium (apt-get install chromium) and playwright (requirements-dev.txt); .ci/run installs both",
)


@contextmanager
def serve(app) -> Iterator[str]:
    """Serve `app` in a thread on 127.0.0.1 and a free port; yields the base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@contextmanager
def browser_page(**context_options):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            context = browser.new_context(**context_options)
            yield context.new_page()
        finally:
            browser.close()


def submit(page, control) -> None:
    """Click a button or link that loads a new page, and return once that page has loaded.

    Playwright's click returns when the navigation has started, not when the new page is there: a check that
    does not wait (is_visible, is_checked, evaluate) could read the old page or a half-parsed new one, and did
    once under the load of CI's three passes.
    """
    with page.expect_navigation():
        control.click()


def serious_violations(page) -> list[dict]:
    """axe-core's serious and critical findings on the page as it is now."""
    results = Axe().run(page)
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def tab_to(page, predicate_js: str, presses: int = 80) -> None:
    """Press Tab until the focused element `e` satisfies the JavaScript expression, as a keyboard user would."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate(f"(() => {{ const e = document.activeElement; return {predicate_js}; }})()"):
            return
    raise AssertionError(f"never reached {predicate_js} with Tab")
