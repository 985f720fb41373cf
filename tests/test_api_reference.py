"""The API reference (issue 18): every operation of /api/v1/openapi.json names the scope it needs (the one
enforced: S1's matrix), carries examples that its schemas accept, and lists its refusals with the codes the
API really answers; /api/v1/docs renders it with assets served by prefs itself, and no request leaves the
machine."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from browser import browser_page, requires_browser, serious_violations, serve, submit
from openapi_document import validator
from test_security import API_SCOPES
from twilio.request_validator import RequestValidator

from prefs.errors import STATUS_BY_CODE

ROOT = Path(__file__).resolve().parent.parent
VENDORED = ROOT / "static" / "vendor" / "redoc"
METHODS = ("get", "put", "post", "patch", "delete")


def template_of(rule: str) -> str:
    """A Flask rule as the document's path: `<string:recipient_id>` → `{recipient_id}`."""
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


@pytest.fixture
def document(client) -> dict:
    return client.get("/api/v1/openapi.json").get_json()


def operations(document: dict):
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def error_statuses(operation: dict) -> dict[str, dict]:
    return {status: response for status, response in operation["responses"].items() if status[0] in "45"}


def media_examples(media: dict) -> list:
    """The examples of a media type, whichever way it gives them."""
    if "example" in media:
        return [media["example"]]
    return [example["value"] for example in media.get("examples", {}).values()]


# --- scopes ---------------------------------------------------------------------------------------------
def test_every_operation_names_the_scope_it_enforces(document):
    documented = {}
    for path, method, operation in operations(document):
        assert len(operation["security"]) == 1, (method, path)
        (requirement,) = operation["security"]
        assert list(requirement) == ["bearerAuth"] and len(requirement["bearerAuth"]) == 1, (method, path, requirement)
        assert operation["x-required-scope"] == requirement["bearerAuth"][0]
        assert f"**Scope:** `{operation['x-required-scope']}`" in operation["description"]
        documented[(method.upper(), path)] = operation["x-required-scope"]
    enforced = {(method, template_of(rule)): scope for (method, rule), scope in API_SCOPES.items() if scope is not None}
    assert documented == enforced
    public = {rule for (_, rule), scope in API_SCOPES.items() if scope is None}
    assert public == {"/api/v1/openapi.json", "/api/v1/docs"} and "security" not in document


def test_the_scheme_explains_every_scope(document):
    from prefs.services.api_keys import SCOPES

    description = document["components"]["securitySchemes"]["bearerAuth"]["description"]
    assert all(f"`{scope}`" in description for scope in SCOPES)


# --- examples -------------------------------------------------------------------------------------------
def test_every_operation_has_examples_its_schemas_accept(document):
    checked = 0
    for path, method, operation in operations(document):
        if "requestBody" in operation:
            media = operation["requestBody"]["content"]["application/json"]
            assert media_examples(media), (method, path, "no request example")
            for example in media_examples(media):
                errors = [e.message for e in validator(document, media["schema"]).iter_errors(example)]
                assert not errors, (method, path, "request", errors)
                checked += 1
        successes = {status: response for status, response in operation["responses"].items() if status.startswith("2")}
        assert successes, (method, path)
        for status, response in successes.items():
            if status == "204":
                assert "content" not in response
                continue
            media = response["content"]["application/json"]
            assert media_examples(media), (method, path, status, "no response example")
            for example in media_examples(media):
                errors = [e.message for e in validator(document, media["schema"]).iter_errors(example)]
                assert not errors, (method, path, status, errors)
                checked += 1
    assert checked >= 40


def test_the_examples_of_a_request_are_accepted_by_the_api(api, document):
    """Not only well formed: the check examples are what the API answers for the README's person."""
    api.put("/recipients/cust-42", {"email": "kim@example.com", "phone": "+14155550123", "locale": "en-US"})
    api.post(
        "/topics",
        {"key": "newsletter", "name": "Newsletter", "channels": ["email", "sms"], "default_subscribed": {"email": True}},
    )
    check = document["paths"]["/api/v1/check"]["post"]
    answer = api.post("/check", check["requestBody"]["content"]["application/json"]["example"])
    assert answer.status_code == 200 and answer.get_json() == check["responses"]["200"]["content"]["application/json"]["example"]


# --- refusals -------------------------------------------------------------------------------------------
def documented_codes(operation: dict) -> dict[str, list[str]]:
    return {status: response["x-error-codes"] for status, response in error_statuses(operation).items()}


def test_every_operation_lists_its_refusals_with_known_codes_and_an_example_each(document):
    for path, method, operation in operations(document):
        codes = documented_codes(operation)
        assert {"401", "403", "422", "503"} <= set(codes), (method, path, codes)
        if "requestBody" in operation:
            assert {"400", "413"} <= set(codes), (method, path)
        assert "default" in operation["responses"]
        for status, response in error_statuses(operation).items():
            media = response["content"]["application/json"]
            assert codes[status], (method, path, status)
            assert all(STATUS_BY_CODE[code] == int(status) for code in codes[status]), (method, path, status)
            enum = media["schema"]["allOf"][1]["properties"]["error"]["properties"]["code"]["enum"]
            assert enum == codes[status] == list(media["examples"])
            assert all(f"`{code}`" in response["description"] for code in codes[status])
            check = validator(document, media["schema"])
            for code, example in media["examples"].items():
                assert example["value"]["error"]["code"] == code
                assert check.is_valid(example["value"]), (method, path, status, code)
            assert not check.is_valid({"error": {"code": "nonsense", "message": "", "details": {}}})
        assert "Retry-After" in operation["responses"]["503"]["headers"]


def test_the_document_names_no_internal_module(document):
    text = json.dumps(document)
    for internal in (r"\b\w+\.py\b", r"\bschemas\.", r"\bprefs/", r"\bservices\b", r"\bapi/\w+\.", r"LeanSchema", r"SPEC"):
        assert not re.search(internal, text), re.search(internal, text).group(0)
    for path, method, operation in operations(document):
        assert operation["summary"] and "\n" not in operation["summary"] and len(operation["summary"]) <= 60, (method, path)
        assert len(operation["description"]) > 80, (method, path)
        assert operation["tags"] != ["api"] and set(operation["tags"]) <= {tag["name"] for tag in document["tags"]}


def sms_stop(client, phone: str) -> None:
    form = {"From": phone, "To": "+15005550006", "Body": "STOP"}
    signature = RequestValidator("test-twilio-token").compute_signature("https://prefs.example.com/webhooks/sms", form)
    assert client.post("/webhooks/sms", data=form, headers={"X-Twilio-Signature": signature}).status_code == 200


def test_the_codes_the_api_answers_are_the_codes_documented(api, client, make_key, document, newsletter, person):
    """Every operation probed with what any request can get wrong (no key, another scope, no JSON, too
    large, unknown fields, NUL, unknown ids), then the business refusals each operation's services raise;
    each refusal's status and code must be listed for that operation."""
    keys = {scope: make_key(f"only-{scope}", scope) for scope in ("check", "read")}
    endpoint_id = api.post("/webhooks", {"url": "http://127.0.0.1:9/hook"}).get_json()["id"]
    api.put("/recipients/gone", {"email": "gone@example.com"})
    api.delete("/recipients/gone")
    sms_stop(client, "+14155550123")
    answered: list[tuple[str, str, int, str]] = []

    def send(method: str, template: str, path: str, body=None, key=None, **options) -> None:
        response = client.open(
            path,
            method=method,
            headers={"Authorization": f"Bearer {key or api.key}"} if key != "" else {},
            **options,
            **({"json": body} if body is not None else {}),
        )
        if response.status_code >= 400:
            answered.append((method, template, response.status_code, response.get_json()["error"]["code"]))

    too_large = b"[" + b"0," * (2 * 1024 * 1024) + b"0]"
    for (method, rule), scope in sorted(API_SCOPES.items(), key=lambda item: item[0][0] == "DELETE"):
        if scope is None:
            continue
        template = template_of(rule)
        path = (
            rule.replace("<string:recipient_id>", "nobody").replace("<string:key>", "nope").replace("<int:endpoint_id>", "999999")
        )
        send(method, template, path, key="")
        send(method, template, path, key=keys["read" if scope == "check" else "check"])
        send(method, template, path + "?q=%00")
        send(method, template, path)
        if method != "GET":
            send(method, template, path, data="not json", content_type="text/plain")
            send(method, template, path, data=too_large, content_type="application/json")
            send(method, template, path, {"colour": "red"})
            known = (
                rule.replace("<string:recipient_id>", "cust-1")
                .replace("<string:key>", "newsletter")
                .replace("<int:endpoint_id>", str(endpoint_id))
            )
            send(method, template, known, {"colour": "red"})
    send("GET", "/api/v1/recipients", "/api/v1/recipients?email=nope")
    send("GET", "/api/v1/events", "/api/v1/events?limit=0")
    send("GET", "/api/v1/recipients/{recipient_id}/events", "/api/v1/recipients/cust-1/events?cursor=bad")
    send("GET", "/api/v1/stats", "/api/v1/stats?from=2026-02-01&to=2026-01-31")
    send("GET", "/api/v1/stats", "/api/v1/stats?group_by=day,day")

    scenarios = [
        ("POST", "/check", {"recipient_id": "cust-1", "topic": "nope", "channel": "email"}),
        ("POST", "/check/batch", {"topic": "newsletter", "channel": "email", "checks": [{"recipient_id": "cust-1"}] * 10_001}),
        ("POST", "/links", {"recipient_id": "cust-1", "topic": "billing"}),
        ("POST", "/links", {"recipient_id": "cust-1", "topic": "nope"}),
        ("POST", "/links", {"recipient_id": "cust-1", "topic": "newsletter", "channel": "post"}),
        ("POST", "/links", {"recipient_id": "gone"}),
        ("PUT", "/recipients/cust-2", {"email": "ann@example.com"}),
        ("PUT", "/recipients/gone", {"locale": "en"}),
        ("PUT", "/recipients/has@at", {"locale": "en"}),
        ("PATCH", "/recipients/cust-1/preferences", {"changes": [{"topic": "billing", "subscribed": False}]}),
        ("PATCH", "/recipients/cust-1/preferences", {"changes": [{"topic": "nope", "subscribed": True}]}),
        ("PATCH", "/recipients/cust-1/preferences", {"changes": [{"channel": "sms", "subscribed": True}]}),
        (
            "PATCH",
            "/recipients/cust-1/preferences",
            {"changes": [{"topic": "newsletter", "channel": "post", "subscribed": True}]},
        ),
        ("PATCH", "/recipients/gone/preferences", {"changes": [{"subscribed": False}]}),
        ("POST", "/recipients/gone/deactivate", None),
        ("POST", "/recipients/gone/reactivate", None),
        ("GET", "/recipients/gone", None),
        ("GET", "/recipients/gone/export", None),
        ("POST", "/topics", {"key": "newsletter", "name": "Newsletter", "channels": ["email"]}),
        ("POST", "/topics", {"key": "offers", "name": "Offers", "channels": ["email"], "default_subscribed": {"sms": True}}),
        ("PATCH", "/topics/billing", {"mandatory": False}),
        ("PATCH", "/topics/billing", {"key": "bills"}),
        ("PATCH", "/topics/billing", {"channels": ["email"]}),
        ("DELETE", "/topics/billing", None),
        ("POST", "/webhooks", {"url": "https://10.0.0.1/hook"}),
        ("PATCH", f"/webhooks/{endpoint_id}", {"url": "https://169.254.169.254/"}),
        ("POST", f"/webhooks/{endpoint_id}/replay", {"after": -1}),
        # opt-in (SPEC §14): a double opt-in topic while mail is off (these tests set no SMTP), unknown topic,
        # a recipient erased or unknown, a number that texted STOP
        ("POST", "/topics", {"key": "letters", "name": "Letters", "channels": ["email"], "confirmation": "double"}),
        (
            "POST",
            "/subscriptions",
            {"email": "new@example.com", "topics": ["letters"], "channel": "email", "evidence": {"source": "form"}},
        ),
        (
            "POST",
            "/subscriptions",
            {"email": "new@example.com", "topics": ["nope"], "channel": "email", "evidence": {"source": "form"}},
        ),
        (
            "POST",
            "/subscriptions",
            {"recipient_id": "gone", "topics": ["newsletter"], "channel": "email", "evidence": {"source": "form"}},
        ),
        (
            "POST",
            "/subscriptions",
            {"recipient_id": "nobody", "topics": ["newsletter"], "channel": "email", "evidence": {"source": "f"}},
        ),
        (
            "POST",
            "/subscriptions",
            {"recipient_id": "cust-1", "topics": ["newsletter"], "channel": "sms", "evidence": {"source": "form"}},
        ),
        ("POST", "/notices", {"key": "signup", "text": "Sign me up", "language": "xx"}),
        ("GET", "/recipients/gone/consents", None),
        # hosted subscribe forms: an unknown topic, a taken key, a changed key
        ("POST", "/notices", {"key": "signup", "text": "Sign me up"}),
        ("POST", "/forms", {"key": "news", "title": "News", "topics": ["nope"], "notice": "signup"}),
        ("POST", "/forms", {"key": "news", "title": "News", "topics": ["newsletter"], "notice": "signup"}),
        ("POST", "/forms", {"key": "news", "title": "News", "topics": ["newsletter"], "notice": "signup"}),
        ("PATCH", "/forms/news", {"key": "other"}),
        ("PATCH", "/forms/news", {"topics": ["nope"]}),
    ]
    for method, path, body in scenarios:
        template = "/api/v1" + next(
            template_of(rule)[len("/api/v1") :]
            for (m, rule) in API_SCOPES
            if m == method and re.fullmatch(re.sub(r"<[^>]+>", "[^/]+", rule[len("/api/v1") :]), path)
        )
        send(method, template, "/api/v1" + path, body)

    operations_by_key = {(method.upper(), path): operation for path, method, operation in operations(document)}
    undocumented = sorted(
        {
            (method, template, status, code)
            for method, template, status, code in answered
            if code not in documented_codes(operations_by_key[(method, template)]).get(str(status), [])
        }
    )
    assert not undocumented, "\n".join(map(str, undocumented))
    seen = {code for *_, code in answered}
    assert seen >= set(STATUS_BY_CODE) - {"method_not_allowed", "rate_limited", "internal_error", "unavailable"}, seen


# --- the rendered reference -----------------------------------------------------------------------------
def test_the_reference_page_and_its_assets_are_served_here(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert 'spec-url="/api/v1/openapi.json"' in html
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(source.startswith("/") or source.startswith("data:") for source in sources), sources
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    for source in sources:
        if source.startswith("/"):
            with client.get(source) as asset:
                assert asset.status_code == 200, source
    assert page.headers.get("Content-Type", "").startswith("text/html")


def test_the_vendored_bundle_is_the_one_recorded(client):
    recorded = dict(
        reversed(line.removeprefix("sha256: ").split(maxsplit=1))
        for line in (VENDORED / "VERSION.txt").read_text().splitlines()
        if line.startswith("sha256: ")
    )
    assert set(recorded) == {"redoc.standalone.js", "redoc.standalone.js.LICENSE.txt", "LICENSE"}
    for name, digest in recorded.items():
        assert hashlib.sha256((VENDORED / name).read_bytes()).hexdigest() == digest, name
    with client.get("/static/vendor/redoc/redoc.standalone.js") as served:
        assert hashlib.sha256(served.get_data()).hexdigest() == recorded["redoc.standalone.js"]
        assert b"cdn.redoc.ly" not in served.get_data()


def test_the_home_page_links_to_the_reference(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<html lang="en">' in html and "<h1>Acme</h1>" in html  # the brand (PREFS_SMS_PROGRAM_NAME in the tests)
    assert 'href="/api/v1/docs"' in html


@requires_browser
@pytest.mark.slow  # a real browser
def test_the_reference_renders_in_chromium_without_a_request_elsewhere(app, client):
    title = client.get("/api/v1/openapi.json").get_json()["info"]["title"]
    with serve(app) as base_url, browser_page() as page:
        host = urlsplit(base_url).netloc
        requests, problems = [], []
        page.on("request", lambda request: requests.append(request.url))
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))

        page.goto(base_url + "/")
        assert serious_violations(page) == []
        problems.clear()  # the home page's own (a missing favicon) are not the reference's
        submit(page, page.get_by_role("link", name="API reference"))
        page.get_by_role("heading", level=1, name=re.compile(re.escape(title))).wait_for()
        page.get_by_role("heading", name="Check one send").wait_for()
        assert page.get_by_text("(a key given `check` or `admin`)").count() == 0  # rendered as Markdown
        assert page.get_by_text("(a key given check or admin)").count() >= 4
        page.wait_for_load_state("networkidle")

        elsewhere = [
            url for url in requests if urlsplit(url).scheme != "data" and urlsplit(url.removeprefix("blob:")).netloc != host
        ]
        assert not elsewhere, elsewhere
        assert any(url.endswith("/api/v1/openapi.json") for url in requests)
        assert not problems, problems
