"""R3 and issue 10's acceptance 5: schemathesis over the whole API, every check, on the database under test.

The app is served over HTTP from a thread (schemathesis 4's in-process WSGI transport hands requests-only
options such as `max_redirects` to werkzeug and loses those requests), and schemathesis' own engine runs it,
as its CLI would: the coverage phase (each constraint of the document, and its negation, deterministically)
in one test; fuzzing and stateful sequences in the other, seeded and
derandomized so a failure reproduces (PREFS_FUZZ_SEED picks another sequence). PREFS_FUZZ_EXAMPLES (default
500 per operation, about two minutes a database) searches deeper or shallower. Both are slow (`-m "not slow"`
skips them).

Four of schemathesis' verdicts are read the way SPEC §4 defines this API, and only these:
- a schema-valid request may be refused with 422 and a business-rule code (unknown_topic, mandatory_topic,
  immutable_field, sms_stop): the document cannot know the catalogue or the stored state. `invalid` means the
  request broke the document, except for the rules in STATE_RULES, which depend on stored data or the clock
  and which the document states in words;
- a batch is one request of many checks: a malformed item is answered `invalid` in a 200 (the others are
  still answered), so the batch's items are fuzzed as the strict BatchItem, and each answer is held to what
  the document says of that item (`batch_items_answered_as_documented`);
- DELETE /topics/{key} archives (SPEC §4): the topic stays readable, flagged `archived`;
- a body schemathesis meant to break the document but which the document allows (an anyOf of two formats,
  one branch broken and the other kept) is not negative data: our own validator decides.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import strategies as st
from openapi_document import is_phone, validator
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation
from schemathesis.engine import events
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance
from werkzeug.serving import make_server

from prefs import storable_text
from prefs.services import forms, notices, subscriptions, topics

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("PREFS_FUZZ_EXAMPLES", "500"))
SEED = int(os.environ.get("PREFS_FUZZ_SEED", "2026"))
STATE_RULES = {"Not a channel of this topic.", "Consent cannot have been given in the future."}
# A subscribe form's topics and notice must exist in the catalogue and the notices, as they are now.
STATE_RULES |= {forms.NO_NOTICE, forms.MANDATORY, forms.NOT_BY_EMAIL}
# A subscription's topics must be sent on its channel and not mandatory; the recipient named must hold an address
# on the channel; its evidence's notice must exist (with a version made by collected_at).
STATE_RULES |= {subscriptions.NOT_ON_CHANNEL, subscriptions.MANDATORY, subscriptions.NO_ADDRESS}
STATE_RULES |= {notices.UNKNOWN_NOTICE, notices.NOT_YET_CURRENT}
# A PATCH to `confirmation: double` is refused for the topic as stored: not sent by email, mandatory, on by default.
STATE_RULES |= {topics.DOUBLE_NOT_BY_EMAIL, topics.DOUBLE_MANDATORY, topics.DOUBLE_ON_BY_DEFAULT}
REFUSALS = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]  # 413: a batch over 10,000

# Values for the document's own formats: `phone` is a number libphonenumber calls valid; `email` refuses the
# special-use domains (.test among them, which schemathesis' generator uses).
schemathesis.openapi.format(
    "phone", st.sampled_from(["+14155550123", "+442071838750", "+4930123456", "+81312345678", "(415) 555-0123", "415.555.0199"])
)
schemathesis.openapi.format(
    "email", st.from_regex(r"[a-z0-9!#$%&'*+/=?^_`{|}~-]{1,12}@[a-z0-9]{1,10}\.(com|org|net|io|dev)", fullmatch=True)
)
assert all(
    is_phone(number)
    for number in ("+14155550123", "+442071838750", "+4930123456", "+81312345678", "(415) 555-0123", "415.555.0199")
)


class Document:
    """The published document, and the validators the checks below hold answers to."""

    current: Document | None = None

    def __init__(self, document: dict) -> None:
        self.published = document
        schemas = document["components"]["schemas"]
        self.batch_request = validator(document, {"$ref": "#/components/schemas/BatchRequest"})
        self.batch_item = validator(document, {**schemas["BatchItem"], "required": ["topic", "channel"]})

    def with_strict_batch_items(self) -> dict:
        strict = json.loads(json.dumps(self.published))
        strict["components"]["schemas"]["BatchRequest"]["properties"]["checks"]["items"] = {
            "$ref": "#/components/schemas/BatchItem"
        }
        return strict


def is_batch(case) -> bool:
    return case.method.upper() == "POST" and case.operation.path.endswith("/check/batch")


def _messages(details) -> Iterator[str]:
    values = details.values() if isinstance(details, dict) else details if isinstance(details, list) else None
    if values is None:
        yield details
        return
    for value in values:
        yield from _messages(value)


@schemathesis.check
def positive_data_accepted_or_refused_by_a_business_rule(ctx, response, case):
    """positive_data_acceptance, but a 422 with a business-rule code (or a STATE_RULES refusal) is an answer."""
    if response.status_code == 422:
        error = response.json().get("error", {})
        if error.get("code") != "invalid":
            return None
        found = set(_messages(error.get("details", {})))
        if found and found <= STATE_RULES:
            return None
        if "/webhooks" in case.operation.path and set(error.get("details", {})) == {"url"}:
            return None  # where a host may be reached is a rule of DNS and settings, not of the document
    return positive_data_acceptance(ctx, response, case)


def negated_body_the_document_allows(case) -> bool:
    """A body schemathesis made to break the document, which the document allows all the same. Its negation
    of an anyOf breaks one branch: a consent time written as a date breaks `format: date-time` and keeps to
    `format: date`. Only the body is judged here, and only when nothing else of the request was negated."""
    negated = {location for location, info in case.meta.components.items() if info.mode.name == "NEGATIVE"}
    if negated != {ParameterLocation.BODY}:
        return False
    content = case.operation.definition.raw.get("requestBody", {}).get("content", {}).get("application/json", {})
    return "schema" in content and validator(Document.current.published, content["schema"]).is_valid(case.body)


@schemathesis.check
def negative_data_rejected_or_answered_per_item(ctx, response, case):
    """negative_data_rejection, but a batch whose own fields are valid answers its malformed items one by one,
    and a body the document allows (read by our own validator, formats included) is not negative data."""
    if is_batch(case) and response.status_code == 200 and Document.current.batch_request.is_valid(case.body):
        return None
    if response.status_code < 300 and negated_body_the_document_allows(case):
        return None
    return negative_data_rejection(ctx, response, case)


@schemathesis.check
def batch_items_answered_as_documented(ctx, response, case):
    """An item is answered `invalid` (code invalid) exactly when, with the request's topic and channel filling
    what it lacks, the document's BatchItem does not describe it, or a string of it holds what no database
    stores (a NUL, half a surrogate pair: the document says so in words, as JSON Schema cannot)."""
    if not (is_batch(case) and response.status_code == 200):
        return None
    defaults = {name: case.body[name] for name in ("topic", "channel") if name in case.body}
    for item, result in zip(case.body["checks"], response.json()["results"], strict=True):
        well_formed = (
            isinstance(item, dict)
            and Document.current.batch_item.is_valid({**defaults, **item})
            and not any(isinstance(value, str) and storable_text.problem(value) for value in item.values())
        )
        answered_malformed = result.get("reason") == "invalid" and result.get("error", {}).get("code") == "invalid"
        if well_formed == answered_malformed:
            said = "describes" if well_formed else "does not describe"
            raise AssertionError(
                f"The document {said} the item {json.dumps(item)[:200]} (defaults {defaults}); answered {json.dumps(result)[:200]}"
            )
    return None


@pytest.fixture
def served(app):
    server = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


def run_schemathesis(served: str, api, phases: dict) -> list[str]:
    """Every failure of a run, one readable line each (request, response, what was expected)."""
    document = Document(api.get("/openapi.json").get_json())
    Document.current = document
    config = SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "base-url": served,
            "headers": {"Authorization": f"Bearer {api.key}"},
            # NUL is refused everywhere (info.description says so; OpenAPI 3.0 cannot say it of object keys).
            "generation": {"max-examples": EXAMPLES, "deterministic": True, "database": "none", "allow-x00": False},
            "phases": phases,
            "checks": {
                "positive_data_acceptance": {"enabled": False},  # read as positive_data_accepted_or_refused_by_a_business_rule
                "negative_data_rejection": {"enabled": False, "expected-statuses": REFUSALS},  # read as ..._answered_per_item
            },
            "operations": [
                {
                    "include-path": "/api/v1/topics/{key}",
                    "include-method": ["GET", "PATCH"],
                    "checks": {"use_after_free": {"enabled": False}},
                }
            ],
            "continue-on-failure": True,
            "cache": {"enabled": False},  # no state carried between runs: a run is reproducible from its seed
        }
    )
    schema = schemathesis.openapi.from_dict(document.with_strict_batch_items(), config=config)
    failures, operations = [], set()
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.NonFatalError | events.FatalError):
            failures.append(
                f"{getattr(event, 'label', 'engine')}: {getattr(event, 'info', None) and event.info.message or event}"
            )
        if not isinstance(event, events.ScenarioFinished):
            continue
        operations.add(event.recorder.label)
        for case_id, checks in event.recorder.checks.items():
            for check in checks:
                if check.failure_info is None:
                    continue
                failure = check.failure_info.failure
                interaction = event.recorder.interactions.get(failure.case_id or case_id)
                request = interaction.request if interaction else None
                sent = f"{request.method} {request.uri} {(request.body or b'')[:300]!r}" if request else "?"
                answer = (
                    f"{interaction.response.status_code} {interaction.response.content[:300]!r}"
                    if interaction and interaction.response
                    else "?"
                )
                failures.append(
                    f"[{event.phase.value}] {check.name}: {failure.title}: {sent} -> {answer}: {failure.message[:300]}"
                )
    assert len(operations) >= 19, operations  # every /api/v1 route (test_openapi.py checks the document covers them)
    return sorted(set(failures))


def test_the_coverage_phase_finds_no_server_error_and_no_disagreement_with_the_document(served, api, newsletter, person):
    failures = run_schemathesis(
        served,
        api,
        {
            "examples": {"enabled": True},
            "coverage": {"enabled": True},
            "fuzzing": {"enabled": False},
            "stateful": {"enabled": False},
        },
    )
    assert not failures, "\n".join(failures)


def test_fuzzing_and_stateful_sequences_find_no_server_error_and_no_disagreement_with_the_document(
    served, api, newsletter, person
):
    failures = run_schemathesis(
        served,
        api,
        {
            "examples": {"enabled": False},
            "coverage": {"enabled": False},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": True},
        },
    )
    assert not failures, "\n".join(failures)
