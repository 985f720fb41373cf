"""The check's input is described once (SPEC §11; issue 10, findings 6 and 15): prefs/api/schemas.py defines
it, /api/v1/openapi.json is generated from it, and the hot path enforces it through LeanSchema. These
properties tie the three together on random input, the malformed kind included (an object or a list where a
string belongs gave a 500 in a batch item)."""

from __future__ import annotations

import re
import sys

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError
from openapi_document import request_body_validator, validator

from prefs.addresses import lookup_email
from prefs.api.schemas import LOOKUP_EMAIL, SPACE, BatchItemSchema, CheckItemSchema, LeanSchema, Pattern
from prefs.errors import PrefsError

CHANNELS = ("email", "sms", "phone", "post")
WRONG_TYPES = st.sampled_from([{}, [], {"a": 1}, ["x"], 5, 0, 1.5, True, False, None])
TEXT = st.text(
    st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12
)  # request_guards.py refuses NUL and lone surrogates first
SPACES = st.text(alphabet=" \t\n\x0b\x1c\x1f\x85\xa0\u2003\u3000\ufeff", max_size=2)
FIELD_VALUES = {
    "recipient_id": st.sampled_from(["cust-1", "nobody", "a.b:c_d-9", ".", "..", "a\n", "has@at", "x" * 129, ""]) | TEXT,
    "email": st.sampled_from(["ann@example.com", "Ann@Example.COM", "zoë@exämple.com", "not-an-email", "a@b", "@b.co", ""])
    | st.builds(lambda a, e, b: a + e + b, SPACES, st.sampled_from(["ann@example.com", "a\x1fb@c.de", "a\xa0@b.co"]), SPACES)
    | TEXT,
    "phone": st.sampled_from(
        ["+14155550123", "(415) 555-0123", " +1 415 555 0123 ", "+10000000", "12", "+1415555012\n", "", "phone"]
    )
    | TEXT,
    "topic": st.sampled_from(["newsletter", "billing", "nope", "Nope", "a\n", "", "-x"]) | TEXT,
    "channel": st.sampled_from([*CHANNELS, "fax", "EMAIL", ""]),
    "message_id": st.sampled_from(["m-1", "", "x" * 256]) | TEXT,
    "extra": TEXT,
}
ITEMS = st.fixed_dictionaries({}, optional={name: values | WRONG_TYPES for name, values in FIELD_VALUES.items()}) | WRONG_TYPES


def marshmallow_accepts(schema, item) -> bool:
    try:
        schema().load(item)
    except ValidationError:
        return False
    return True


@pytest.mark.slow  # 500 examples
@settings(max_examples=500, deadline=None)
@given(item=ITEMS)
def test_lean_schema_accepts_exactly_what_marshmallow_accepts(item):
    if not isinstance(item, dict):
        return
    for schema in (CheckItemSchema, BatchItemSchema):
        assert (not LeanSchema(schema).errors(item)) == marshmallow_accepts(schema, item), (schema.__name__, item)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    items=st.lists(ITEMS, min_size=1, max_size=40),
    defaults=st.fixed_dictionaries(
        {}, optional={"topic": st.sampled_from(["newsletter", "nope"]), "channel": st.sampled_from(CHANNELS)}
    ),
)
def test_every_item_is_answered_as_the_document_describes_it(api, newsletter, person, items, defaults):
    """An item that, with the request's defaults filled in, is a CheckItem (plus message_id) per the published
    document is never answered `invalid` with code invalid (an unknown topic is its own code); any other item
    is answered `invalid`, and the single check refuses the same items with 422."""
    document = api.get("/openapi.json").get_json()
    item_schema = {**document["components"]["schemas"]["BatchItem"], "required": ["topic", "channel"]}
    well_formed = validator(document, item_schema)
    check_body = request_body_validator(document, "POST", "/check")
    response = api.post("/check/batch", {"checks": items, **defaults})
    assert response.status_code == 200, response.get_data(as_text=True)
    for item, result in zip(items, response.get_json()["results"], strict=True):
        effective = {**defaults, **item} if isinstance(item, dict) else item
        answered_malformed = result["reason"] == "invalid" and result["error"]["code"] == "invalid"
        assert well_formed.is_valid(effective) != answered_malformed, (item, defaults, result)
        if isinstance(effective, dict) and "message_id" not in effective:
            single = api.post("/check", effective)
            refused_as_malformed = single.status_code == 422 and single.get_json()["error"]["code"] == "invalid"
            assert check_body.is_valid(effective) != refused_as_malformed, (effective, single.get_json())


def test_space_is_exactly_what_python_calls_white_space():
    spelled_out = re.compile(f"[{SPACE}]")
    for code_point in range(sys.maxunicode + 1):
        character = chr(code_point)
        assert bool(spelled_out.fullmatch(character)) == character.isspace(), hex(code_point)


@pytest.mark.slow  # 500 examples
@settings(max_examples=500, deadline=None)
@given(
    text=st.builds(
        lambda a, b, c: a + b + c,
        SPACES,
        FIELD_VALUES["email"].filter(lambda value: isinstance(value, str)) | st.from_regex(LOOKUP_EMAIL, fullmatch=True),
        SPACES,
    )
)
def test_the_documented_look_up_email_pattern_is_what_the_look_up_accepts(text):
    documented = len(text) <= 320 and Pattern(LOOKUP_EMAIL, "")._search(text) is not None
    try:
        lookup_email(text)
        accepted = True
    except PrefsError:
        accepted = False
    assert documented == accepted, repr(text)


@pytest.fixture(scope="module")
def document_patterns(database_url):
    from conftest import BASE_SETTINGS
    from openapi_document import patterns

    from prefs import create_app

    app = create_app({**BASE_SETTINGS, "PREFS_DATABASE_URL": database_url})
    return sorted(patterns(app.test_client().get("/api/v1/openapi.json").get_json()))


@pytest.mark.slow  # 200 examples a pattern
def test_every_documented_pattern_means_in_python_what_it_means_to_a_client(document_patterns):
    """Python's `$` also matches before a final newline and its `\\s`, `\\d` are other sets than ECMA-262's:
    each pattern, on strings built to sit on those edges, passes the server's check exactly when it passes
    a client's (jsonschema-rs)."""
    assert len(document_patterns) >= 8
    for pattern in document_patterns:
        agreement_on(pattern)()


def agreement_on(pattern: str):
    client_side = jsonschema_rs.validator_for({"type": "string", "pattern": pattern})
    server_side = Pattern(pattern, "")

    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(
        text=st.from_regex(pattern) | st.text(max_size=20),
        edge=st.sampled_from(["", "\n", "\r", "\x1c", "\xa0", "\ufeff", "\u0663", " "]),
    )
    def agree(text, edge):
        for candidate in (text + edge, edge + text):
            try:
                server_side(candidate)
                accepted = True
            except ValidationError:
                accepted = False
            assert accepted == client_side.is_valid(candidate), (pattern, candidate)

    return agree
