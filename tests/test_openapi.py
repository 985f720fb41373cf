"""The OpenAPI document is valid OpenAPI 3, needs no key, and covers every /api/v1 route (acceptance 6)."""
from __future__ import annotations

import re

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
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            assert operation["security"] == [{"bearerAuth": []}], (path, method)
            assert "default" in operation["responses"], (path, method)
    error = document["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["$ref"].endswith("/ErrorBody")


def test_batch_request_is_described(client):
    document = client.get("/api/v1/openapi.json").get_json()
    body = document["paths"]["/api/v1/check/batch"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].endswith("/BatchRequest")
    batch = document["components"]["schemas"]["BatchRequest"]
    assert batch["properties"]["checks"]["maxItems"] == 10_000
