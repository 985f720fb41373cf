"""The OpenAPI document is valid OpenAPI 3, needs no key, and covers every /api/v1 route (acceptance 6)."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate


def test_document_is_valid_openapi_3_and_needs_no_key(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.")
    validate(document)


def test_document_covers_every_api_route_and_method(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    documented = {(path, method.upper()) for path, item in document["paths"].items() for method in item if method != "parameters"}
    routed = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint.startswith("api-docs"):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        routed |= {(path, method) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routed and routed == documented


def test_every_operation_documents_security_and_the_error_shape(client):
    """Which scope each operation needs, and its refusals: tests/test_api_reference.py."""
    document = client.get("/api/v1/openapi.json").get_json()
    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert "security" not in document  # the document itself is public
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            assert [list(requirement) for requirement in operation["security"]] == [["bearerAuth"]], (path, method)
            assert "default" in operation["responses"], (path, method)
    error = document["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["$ref"].endswith("/ErrorBody")


def test_batch_request_is_described(client):
    document = client.get("/api/v1/openapi.json").get_json()
    body = document["paths"]["/api/v1/check/batch"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].endswith("/BatchRequest")
    batch = document["components"]["schemas"]["BatchRequest"]
    assert batch["properties"]["checks"]["maxItems"] == 10_000


# Issue 10, finding 15: requests on which the document and the API used to disagree (schema-valid ones refused,
# invalid ones accepted, found by schemathesis). Each now gets the same verdict from both.
REFUSED = [
    ("PUT", "/recipients/cust-1", {"locale": ""}),
    ("PUT", "/recipients/cust-1", {"locale": "en\n"}),
    ("PUT", "/recipients/cust-1", {"email": ""}),
    ("PUT", "/recipients/cust-1", {"phone": ""}),
    ("PUT", "/recipients/cust-1", {"postal_address": {"lines": [" "], "country": "US"}}),
    ("PUT", "/recipients/cust-1", {"postal_address": {"lines": ["1 Main St"], "country": ""}}),
    ("PUT", "/recipients/cust-1", {"postal_address": {}}),
    (
        "POST",
        "/check",
        {
            "recipient_id": "cust-1",
            "email": "ann@example.com",
            "phone": "+14155550123",
            "topic": "newsletter",
            "channel": "email",
        },
    ),
    ("POST", "/check", {"topic": "newsletter", "channel": "email"}),
    ("POST", "/check", {"recipient_id": None, "email": "ann@example.com", "topic": "newsletter", "channel": "email"}),
    ("POST", "/check", {"email": "nope", "topic": "newsletter", "channel": "email"}),
    ("POST", "/check", {"recipient_id": "cust-1", "topic": "Not a key!", "channel": "email"}),
    ("POST", "/check/batch", {"checks": [{"recipient_id": "cust-1"}], "topic": "newsletter", "channel": None}),
    ("POST", "/check/batch", {"checks": [{"recipient_id": "cust-1"}], "topic": None, "channel": "email"}),
    ("POST", "/topics", {"key": "offers", "name": "Offers", "channels": ["email"], "default_subscribed": {"fax": True}}),
    ("POST", "/topics", {"key": "offers", "name": "Offers", "channels": ["email", "email"]}),
    ("POST", "/topics", {"key": "offers\n", "name": "Offers", "channels": ["email"]}),
    (
        "PATCH",
        "/recipients/cust-1/preferences",
        {"changes": [{"subscribed": True}], "evidence": {"collected_at": "", "source": "form"}},
    ),
    ("POST", "/links", {"recipient_id": "cust-1", "topic": "Not a key!"}),
]
ACCEPTED = [
    (
        "PUT",
        "/recipients/cust-1",
        {"locale": "en_GB", "phone": "(415) 555-0100", "postal_address": {"lines": [" 1 Main St "], "country": "us"}},
    ),
    ("POST", "/check", {"email": " Ann@Example.COM ", "topic": "newsletter", "channel": "email"}),
    ("POST", "/check", {"phone": "+10000000", "topic": "newsletter", "channel": "sms"}),  # E.164 is looked up as it is
    ("POST", "/check/batch", {"checks": [{"topic": {}}, {"recipient_id": "cust-1"}], "topic": "newsletter", "channel": "email"}),
    (
        "POST",
        "/topics",
        {"key": "offers", "name": "Offers", "channels": ["email", "post"], "default_subscribed": {"email": True}},
    ),
    (
        "PATCH",
        "/recipients/cust-1/preferences",
        {"changes": [{"subscribed": True}], "evidence": {"collected_at": "2016-01-05", "source": "form", "form_id": 7}},
    ),
]


def _refused_as_malformed(response) -> bool:
    return response.status_code in (400, 422) and response.get_json()["error"]["code"] in ("invalid", "bad_request")


@pytest.mark.parametrize(("method", "path", "body"), REFUSED + ACCEPTED)
def test_the_document_and_the_api_agree_on_a_request_body(api, newsletter, person, method, path, body):
    from openapi_document import request_body_validator

    template = path.replace("cust-1", "{recipient_id}")
    documented = request_body_validator(api.get("/openapi.json").get_json(), method, template).is_valid(body)
    assert documented == ((method, path, body) in ACCEPTED)
    assert _refused_as_malformed(api.call(method, path, body)) != documented


@pytest.mark.parametrize(
    ("path", "documented"),
    [
        ("/recipients?email=ann@example.com", True),
        ("/recipients?phone=%2B14155550123&utm=x", True),  # other query parameters are ignored
        ("/recipients", False),
        ("/recipients?email=ann@example.com&phone=%2B14155550123", False),
        ("/recipients/cust-1/events?cursor=", False),
        ("/recipients/cust-1/events?cursor=YmVmb3JlOjEyMw", False),  # the old cursor's shape
        ("/recipients/cust-1/events?cursor=AAAAAAAAAAU", True),
    ],
)
def test_the_document_and_the_api_agree_on_query_parameters(api, person, path, documented):
    from urllib.parse import parse_qsl, urlsplit

    from openapi_document import validator

    document = api.get("/openapi.json").get_json()
    url = urlsplit(path)
    template = "/api/v1" + ("/recipients/{recipient_id}/events" if url.path.endswith("/events") else url.path)
    query = dict(parse_qsl(url.query, keep_blank_values=True))
    verdicts = []
    for parameter in document["paths"][template]["get"].get("parameters", []):
        check = validator(document, parameter["schema"])
        if parameter.get("explode") and parameter["schema"]["type"] == "object":
            verdicts.append(check.is_valid(query))
        elif parameter["name"] in query:
            verdicts.append(check.is_valid(query[parameter["name"]]))
    assert all(verdicts) == documented
    assert _refused_as_malformed(api.get(path)) != documented


@pytest.mark.parametrize(
    ("recipient_id", "documented"), [("cust-2", True), ("a.b:c_d-9", True), ("abc%0A", False), ("has@at", False), ("..", False)]
)
def test_the_document_and_the_api_agree_on_a_recipient_id(api, recipient_id, documented):
    from urllib.parse import unquote

    from openapi_document import validator

    document = api.get("/openapi.json").get_json()
    parameter = document["paths"]["/api/v1/recipients/{recipient_id}"]["parameters"][0]
    assert validator(document, parameter["schema"]).is_valid(unquote(recipient_id)) == documented
    assert (api.put(f"/recipients/{recipient_id}", {}).status_code in (200, 201)) == documented
