"""The console as staff use it: an HTTPS client (the session cookie is Secure outside development) that
sends the Referer and CSRF token a browser would, and fills in forms from the pages' own HTML."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import quote_plus

ORIGIN = "https://localhost"
PASSWORD = "correct horse battery staple"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


class Console:
    """One browser session: cookies kept, the Referer a browser sends, a fresh CSRF token per form."""

    def __init__(self, app) -> None:
        self.client = app.test_client()

    def get(self, path: str, **kwargs):
        return self.client.get(path, base_url=ORIGIN, **kwargs)

    def token(self) -> str:
        page = self.get("/console/")
        if page.status_code != 200:
            page = self.get("/console/login")
        return csrf_token(page.get_data(as_text=True))

    def post(self, path: str, data: dict | list | None = None, csrf: bool = True, **kwargs):
        """POST a form; `data` may be a list of pairs for repeated names (checkboxes, `shown`)."""
        pairs = list(data.items()) if isinstance(data, dict) else list(data or [])
        if csrf:
            pairs.append(("csrf_token", self.token()))
        headers = {"Referer": ORIGIN + "/console/", **kwargs.pop("headers", {})}
        body = "&".join(f"{quote(k)}={quote(str(v))}" for k, v in pairs)
        return self.client.post(
            path, base_url=ORIGIN, data=body, content_type="application/x-www-form-urlencoded", headers=headers, **kwargs
        )

    def submit(self, page: str, action: str, fields: dict | None = None, csrf: bool = True):
        """Fill in the form of the page at path `page` that posts to `action` as a person would, and send it."""
        return self.submit_on(self.text(page), action, fields, csrf)

    def submit_on(self, html: str, action: str, fields: dict | None = None, csrf: bool = True):
        """Fill in the form of a page in hand (e.g. search results) that posts to `action`, and send it.

        `fields`: a checkbox's name -> True (tick) or False (untick), or for a group of boxes sharing a name,
        the values to tick; any other name -> its new value. Disabled controls are not sent, as in a browser.
        """
        controls = form_controls(html, action)
        fields = dict(fields or {})
        pairs = []
        for control in controls:
            name = control["name"]
            if control.get("disabled") or (name == "csrf_token" and not csrf):
                continue
            wanted = fields.get(name, control.get("checked", control["value"]))
            if control.get("checkbox"):
                if wanted is True or (isinstance(wanted, (list, tuple, set)) and control["value"] in wanted):
                    pairs.append((name, control["value"]))
            else:
                pairs.append((name, wanted))
        known = {control["name"] for control in controls}
        pairs.extend((name, value) for name, value in fields.items() if name not in known)  # a hand-made request
        return self.post(action, pairs, csrf=False)

    def search(self, query: str) -> str:
        """Type `query` in the search box and send it, as at the console's home; returns the results page,
        the answer to that POST (so the query is in no URL, and the session cookie does not keep it)."""
        response = self.submit("/console/", "/console/", {"q": query})
        assert response.status_code == 200, response.status_code
        return response.get_data(as_text=True)

    def login(self, email: str, password: str = PASSWORD, **kwargs):
        return self.post("/console/login", {"email": email, "password": password}, **kwargs)

    def text(self, path: str, status: int = 200) -> str:
        response = self.get(path)
        assert response.status_code == status, (path, response.status_code)
        return response.get_data(as_text=True)


def quote(value: str) -> str:
    return quote_plus(value)


class FormReader(HTMLParser):
    """What a browser would submit from the form posting to `action`: its controls, in order.

    Checkboxes are kept with their state (a browser sends only the ticked ones, and never a disabled one).
    """

    def __init__(self, action: str) -> None:
        super().__init__(convert_charrefs=True)
        self.action = action
        self.inside = False
        self.found = False
        self.controls: list[dict] = []
        self._textarea: dict | None = None
        self._select: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("action") == self.action
            self.found = self.found or self.inside
        if not self.inside or "name" not in a and tag != "option":
            return
        if tag == "input":
            kind = a.get("type", "text")
            if kind == "checkbox":
                self.controls.append(
                    {
                        "name": a["name"],
                        "checkbox": True,
                        "checked": "checked" in a,
                        "disabled": "disabled" in a,
                        "value": a.get("value", "on"),
                    }
                )
            elif kind not in ("submit", "button"):
                self.controls.append({"name": a["name"], "value": a.get("value", ""), "disabled": "disabled" in a})
        elif tag == "textarea":
            self._textarea = {"name": a["name"], "value": "", "disabled": "disabled" in a}
            self.controls.append(self._textarea)
        elif tag == "select":
            self._select = {"name": a["name"], "value": None, "disabled": "disabled" in a}
            self.controls.append(self._select)
        elif tag == "option" and self._select is not None:
            if self._select["value"] is None or "selected" in a:
                self._select["value"] = a.get("value", "")

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea["value"] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None


def form_controls(html: str, action: str) -> list[dict]:
    reader = FormReader(action)
    reader.feed(html)
    assert reader.found, f"no form posting to {action}"
    return reader.controls
