"""Issue 19 in the console: after a scripted scenario made through the service's public surface (one-click
links with message ids, the preference page, the API, an SMS STOP, a provider's complaint and hard bounce, an
erasure), the insights page's tables and its CSV downloads give exactly the counts the scenario made; viewers
and up see them, anonymous visitors are sent to sign in; bad input gets a page that says what to fix."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from provider_signing import PROVIDER_SETTINGS, mailgun_event, mailgun_payload, postmark_auth, postmark_bounce
from test_pages import links, path_of, save
from test_sms import text

from prefs.services import insights

pytest_plugins = ["console_fixtures"]

PAGE = "/console/insights"
CSV = "/console/insights.csv"
# A campaign id is the mailer's text: it must come out escaped on the page and inert in a spreadsheet.
HOSTILE_CAMPAIGN = "=1+2<script>alert(1)</script>"


@pytest.fixture
def settings_override():
    return dict(PROVIDER_SETTINGS)


class TableReader(HTMLParser):
    """The rows of every table on a page, by the id of the section holding it: [[header, cell, ...], ...]."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[str]]] = {}
        self.section: str | None = None
        self.row: list[str] | None = None
        self.cell: list[str] | None = None
        self.totals: dict[str, str] = {}
        self._in_totals = False
        self._term: str | None = None
        self._text: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section" and a.get("id"):
            self.section = a["id"]
        elif tag == "dl" and a.get("id") == "totals":
            self._in_totals = True
        elif tag in ("dt", "dd") and self._in_totals:
            self._text = []
        elif tag == "tr" and self.section:
            self.row = []
        elif tag in ("th", "td") and self.row is not None:
            self.cell = []

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag in ("th", "td") and self.cell is not None and self.row is not None:
            self.row.append(" ".join("".join(self.cell).split()))
            self.cell = None
        elif tag == "tr" and self.row is not None and self.section:
            self.tables.setdefault(self.section, []).append(self.row)
            self.row = None
        elif tag == "dl":
            self._in_totals = False
        elif tag == "dt" and self._text is not None:
            self._term = "".join(self._text).strip()
            self._text = None
        elif tag == "dd" and self._text is not None and self._term:
            self.totals[self._term] = "".join(self._text).strip()
            self._text = None


def read_page(html: str) -> TableReader:
    reader = TableReader()
    reader.feed(html)
    return reader


def as_dict(rows: list[list[str]]) -> dict[str, dict[str, str]]:
    """A table as {row header: {column: cell}}."""
    header, *body = rows
    return {row[0]: dict(zip(header[1:], row[1:], strict=True)) for row in body}


def csv_rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="insights-')
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


@pytest.fixture
def scenario(app, api, client, newsletter, person) -> str:
    """Everything the counts below come from, made as mailers, people and providers make it; returns today."""
    for recipient_id, address in (("cust-2", "bea@example.com"), ("cust-4", "dan@example.com"), ("cust-5", "eve@example.com")):
        assert api.put(f"/recipients/{recipient_id}", {"email": address}).status_code == 201
    assert api.put("/recipients/cust-3", {"phone": "+14155550124"}).status_code == 201
    assert api.put("/recipients/gone", {"email": "gone@example.com"}).status_code == 201
    one_click = {"List-Unsubscribe": "One-Click"}
    # Two one-click unsubscribes from the newsletter, both from the spring-sale campaign's links.
    for recipient_id in ("cust-1", "cust-2"):
        url = api.post("/links", {"recipient_id": recipient_id, "topic": "newsletter", "message_id": "spring-sale"})
        assert client.post(path_of(url.get_json()["unsubscribe_url"]), data=one_click).status_code == 200
    # A one-click on a link without a topic stops email altogether, from a campaign with a hostile id.
    url = api.post("/links", {"recipient_id": "cust-4", "message_id": HOSTILE_CAMPAIGN}).get_json()["unsubscribe_url"]
    assert client.post(path_of(url), data=one_click).status_code == 200
    # The same link again changes nothing, so counts nothing.
    assert client.post(path_of(url), data=one_click).status_code == 200
    # An opt-in by API (texts need express consent), then a STOP texted from that number.
    changes = [{"topic": "newsletter", "channel": "sms", "subscribed": True}]
    assert api.patch("/recipients/cust-1/preferences", {"changes": changes, "reason": "signed up"}).status_code == 200
    assert text(client, "STOP").status_code == 200
    # cust-2 stops all marketing on the preference page.
    preferences = path_of(links(api, recipient_id="cust-2")["preferences_url"])
    save(client, preferences, client.get(preferences).get_data(as_text=True), stop_all=True)
    # A spam complaint from cust-5 (stops their email marketing) and a hard bounce for an address nobody holds.
    complaint = mailgun_payload(mailgun_event("complained", "eve@example.com"))
    assert client.post("/webhooks/providers/mailgun", json=complaint).get_json()["outcomes"] == {"applied": 1}
    bounce = postmark_bounce("nobody@example.com", record_id=7)
    response = client.post("/webhooks/providers/postmark", json=bounce, headers=postmark_auth())
    assert response.get_json()["outcomes"] == {"suppressed": 1}
    # An erasure leaves the erased address suppressed.
    assert api.delete("/recipients/gone").status_code == 204
    with app.app_context():
        insights.refresh()
    return datetime.now(UTC).date().isoformat()


def test_the_tables_give_exactly_the_counts_the_scenario_made(console, scenario):
    today = scenario
    html = console("viewer").text(PAGE)
    page = read_page(html)

    # Suppressions: the number that texted STOP, the bounced address nobody holds, the erased address.
    assert page.totals == {"Opt-outs": "6", "Opt-ins": "1", "Suppressions added": "3", "Hard bounces": "1", "Complaints": "1"}

    by_channel = as_dict(page.tables["opt-outs-by-channel"])
    assert by_channel[today] == {
        "Email": "4",  # two newsletter one-clicks, a channel one-click, a complaint
        "Text message": "1",  # STOP
        "Phone call": "0",
        "Post": "0",
        "Every channel at once": "1",  # the preference page's stop of all marketing
        "Total": "6",
    }
    assert by_channel["All these days"]["Total"] == "6"
    assert all(row["Total"] == "0" for day, row in by_channel.items() if day not in (today, "All these days"))
    assert len(by_channel) == 30 + 1  # the last 30 days by default, and their sum

    channels = as_dict(page.tables["active-by-channel"])
    assert {name: (row["Opt-outs"], row["Opt-ins"]) for name, row in channels.items()} == {
        "Email": ("4", "0"),
        "Text message": ("1", "1"),
        "Phone call": ("0", "0"),
        "Post": ("0", "0"),
        "Every channel at once": ("1", "0"),
    }
    # Who may get marketing now: email cust-1 (a topic opt-out stops no channel); cust-2 stopped all marketing,
    # cust-4 stopped email, cust-5 complained, "gone" is erased. Texts and calls: only cust-3, since cust-1's
    # number texted STOP (a suppression of the number, which the decision rule applies to calls too).
    may_get = {name: row["May get marketing now"] for name, row in channels.items()}
    assert may_get == {
        "Email": "1",
        "Text message": "1",
        "Phone call": "1",
        "Post": "0",
        "Every channel at once": "—",
    }
    assert channels["Email"]["Opt-outs per 1,000 who may get marketing now"] == "4,000"
    # The rate per day: the day's opt-outs on the channel, each stop of all marketing included, per 1,000 who may
    # get marketing on it by the day's count (the scenario's counts are today's, so earlier days have none).
    rates = as_dict(page.tables["opt-out-rate-by-channel"])
    assert rates[today] == {"Email": "5,000", "Text message": "2,000", "Phone call": "1,000", "Post": "—"}
    assert all(set(row.values()) == {"—"} for day, row in rates.items() if day != today)
    assert re.search(
        r"Counted \d{4}-\d\d-\d\d \d\d:\d\d UTC; the worker counts again after changes, 10 seconds to 5 minutes later", html
    )

    by_topic = as_dict(page.tables["opt-outs-by-topic"])
    assert by_topic[today] == {"Newsletter": "2", "Every topic at once": "4", "Total": "6"}

    campaigns = page.tables["top-campaigns"]
    assert campaigns == [
        ["Campaign (message id)", "Opt-outs", "Opt-ins", "Complaints"],
        ["spring-sale", "2", "0", "0"],
        [HOSTILE_CAMPAIGN, "1", "0", "0"],
    ]
    assert "3 opt-outs came with no message id" in html
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html

    ways = {row[0]: row[1:] for row in page.tables["ways-out"][1:]}
    assert ways == {
        "One-click unsubscribe": ["one_click", "3", "50.0%"],
        "A spam complaint reported by Mailgun": ["complaint:mailgun", "1", "16.7%"],
        "Preference center": ["preference_center", "1", "16.7%"],
        "Text keyword STOP": ["keyword:STOP", "1", "16.7%"],
    }

    daily = as_dict(page.tables["deliverability"])
    assert daily[today] == {"Hard bounces": "1", "Complaints": "1", "Suppressions added": "3", "Total": "5"}
    sources = {row[0]: row[1:] for row in page.tables["suppressions-by-source"][1:]}
    assert sources == {
        "A hard bounce reported by Postmark": ["bounce:postmark", "1", "1", "0"],
        "Left by an erasure": ["erasure", "1", "0", "0"],
        "A STOP text from this number": ["sms_stop", "1", "0", "0"],
        "A spam complaint reported by Mailgun": ["complaint:mailgun", "0", "0", "1"],
    }


def test_the_csv_downloads_hold_the_same_counts_and_no_formulas(console, scenario):
    viewer = console("viewer")
    today = scenario
    start = (datetime.now(UTC).date() - timedelta(days=29)).isoformat()
    html = viewer.text(PAGE)
    links_on_page = sorted(set(re.findall(r'href="(/console/insights\.csv\?[^"]+)"', html)))
    assert len(links_on_page) == 6  # day,channel; channel; day,topic; message_id; via; day
    for link in links_on_page:
        assert f"from={start}" in link and f"to={today}" in link

    campaigns = csv_rows(viewer.get(f"{CSV}?group_by=message_id"))
    assert [(row["message_id"], row["opt_outs"], row["complaints"]) for row in campaigns] == [
        ("", "3", "1"),  # no message id: the STOP, the preference page, the complaint (and the provider's reports)
        ("spring-sale", "2", "0"),
        ("'" + HOSTILE_CAMPAIGN, "1", "0"),  # a spreadsheet shows it as text, never runs it
    ]

    by_day_and_channel = csv_rows(viewer.get(f"{CSV}?group_by=day,channel&from={today}&to={today}"))
    assert {(row["day"], row["channel"]): (row["opt_outs"], row["opt_ins"]) for row in by_day_and_channel} == {
        (today, ""): ("1", "0"),
        (today, "email"): ("4", "0"),
        (today, "sms"): ("1", "1"),
    }
    rate = {row["channel"]: row["opt_outs_per_1000_may_get_marketing"] for row in by_day_and_channel}
    assert rate == {"": "", "email": "5000.0", "sms": "2000.0"}  # as the page's rate table
    by_channel = {row["channel"]: row for row in csv_rows(viewer.get(f"{CSV}?group_by=channel"))}
    assert {key: (row["opt_outs"], row["active_recipients"]) for key, row in by_channel.items()} == {
        "email": ("4", "1"),
        "sms": ("1", "1"),
        "phone": ("0", "1"),
        "post": ("0", "0"),
        "": ("1", ""),
    }
    assert by_channel["email"]["opt_outs_per_1000_active"] == "4000.0"
    by_via = {row["via"]: row for row in csv_rows(viewer.get(f"{CSV}?group_by=via"))}
    assert {via: int(row["suppressions"]) for via, row in by_via.items() if int(row["suppressions"])} == {
        "bounce:postmark": 1,
        "erasure": 1,
        "sms_stop": 1,
    }
    assert sum(int(row["opt_outs"]) for row in by_via.values()) == 6


def test_a_range_without_the_scenario_shows_nothing(console, scenario):
    html = console("viewer").text(f"{PAGE}?from=2020-01-01&to=2020-12-31")  # a leap year: the longest range
    page = read_page(html)
    assert set(page.totals.values()) == {"0"}
    assert len(as_dict(page.tables["opt-outs-by-channel"])) == 366 + 1
    assert page.tables["top-campaigns"][1:] == [["Nothing in these dates."]]
    assert "No opt-out in these dates came from a campaign" in html
    assert csv_rows(console("viewer", "other@example.com").get(f"{CSV}?group_by=via&from=2020-01-01&to=2020-01-07")) == []


def test_a_single_day_is_drawn_and_tabled(console, scenario):
    today = scenario
    page = read_page(console("viewer").text(f"{PAGE}?from={today}&to={today}"))
    assert as_dict(page.tables["opt-outs-by-channel"])[today]["Total"] == "6"
    assert page.totals["Opt-outs"] == "6"


@pytest.mark.parametrize("role", ["viewer", "agent", "admin"])
def test_viewers_and_up_see_the_page_and_its_nav_link(console, role):
    session = console(role)
    html = session.text(PAGE)
    assert "<h1>Insights</h1>" in html and 'aria-current="page">Insights</a>' in html
    assert "Not counted yet" in html  # the roll-ups were never refreshed: said, not shown as zeros counted
    assert f'href="{PAGE}"' in session.text("/console/")
    assert session.get(f"{CSV}?group_by=day").status_code == 200


def test_anonymous_visitors_are_sent_to_sign_in(anonymous):
    for path in (PAGE, f"{CSV}?group_by=day"):
        response = anonymous.get(path)
        assert response.status_code == 302 and "/console/login" in response.headers["Location"], path


BAD_QUERIES = [
    ("from=yesterday", "is not a date"),
    ("from=2025-02-30", "is not a date"),
    ("to=2025-13-01", "is not a date"),
    ("from=0001-01-01&to=0001-01-02", "before 2000-01-01"),
    ("to=0001-01-28", "before 2000-01-01"),
    ("from=2025-03-10&to=2025-03-01", "starts after it ends"),
    ("from=2023-01-01&to=2025-01-01", "at most 366 days"),
    ("from=%3Cscript%3E", "is not a date"),
]


@pytest.mark.parametrize(("query", "message"), BAD_QUERIES)
def test_bad_dates_get_a_friendly_page_and_change_nothing(app, api, console, newsletter, person, query, message):
    before = api.get("/recipients/cust-1/events").get_json()
    viewer = console("viewer")
    response = viewer.get(f"{PAGE}?{query}")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in html and 'role="alert"' in html and 'aria-invalid="true"' in html
    assert "<script>" not in html.split("<main", 1)[1]
    assert 'id="opt-outs-by-channel"' not in html  # no charts for a range that is not one
    download = viewer.get(f"{CSV}?group_by=day&{query}")
    assert download.status_code == 400 and "Nothing was downloaded." in download.get_data(as_text=True)
    assert api.get("/recipients/cust-1/events").get_json() == before


@pytest.mark.parametrize("group_by", ["", "nonsense", "day,day", "recipient_id", "day,%00"])
def test_a_bad_grouping_for_the_csv_gets_a_page_that_says_which_exist(console, group_by):
    response = console("viewer").get(f"{CSV}?group_by={group_by}")
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert response.mimetype == "text/html"
    if "%00" not in group_by:  # a NUL is refused before anything reads it (the console's rule)
        assert "day, topic, channel, via, message_id" in body and "Nothing was downloaded." in body
