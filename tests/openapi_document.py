"""Reading /api/v1/openapi.json as a client would: its schemas as JSON Schema validators (jsonschema-rs, whose
regular expressions follow ECMA-262 as OpenAPI's do, not Python's), and what its `phone` format means."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import phonenumbers

REGION = "US"  # PREFS_DEFAULT_PHONE_REGION in the tests


def is_phone(text: str) -> bool:
    """The document's `format: phone`: a number libphonenumber calls valid, once trimmed."""
    if len(text) > 64 or not text.strip():
        return False
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(text.strip(), REGION))
    except phonenumbers.NumberParseException:
        return False


def as_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 `nullable: true` as JSON Schema's `type: [T, "null"]` (a JSON Schema validator ignores it)."""
    if isinstance(node, list):
        return [as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: as_json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") and "type" in node:
        converted["type"] = [node["type"], "null"]
        if "enum" in converted and None not in converted["enum"]:
            converted["enum"] = [*converted["enum"], None]
    return converted


def validator(document: dict, schema: dict) -> Any:
    """A validator for `schema`, whose $refs point into the document's components."""
    root = as_json_schema({**schema, "components": document["components"]})
    return jsonschema_rs.Draft4Validator(root, formats={"phone": is_phone}, validate_formats=True)


def request_body_validator(document: dict, method: str, path: str) -> Any:
    operation = document["paths"]["/api/v1" + path][method.lower()]
    return validator(document, operation["requestBody"]["content"]["application/json"]["schema"])


def patterns(node: Any) -> set[str]:
    """Every `pattern` the document states, wherever it stands."""
    if isinstance(node, list):
        return set().union(*(patterns(item) for item in node)) if node else set()
    if not isinstance(node, dict):
        return set()
    found = {node["pattern"]} if isinstance(node.get("pattern"), str) else set()
    return found.union(*(patterns(value) for value in node.values()))
