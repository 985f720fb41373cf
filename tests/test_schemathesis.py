"""R3: schemathesis generates requests from /api/v1/openapi.json; no 5xx, and responses match the document.

Bounded (PREFS_FUZZ_EXAMPLES, default 25 per operation) so it fits in every CI run; raise it locally for a
deeper search. The key holds every scope, so authorised paths get exercised, not just the 401s.
Every schemathesis check runs except "positive data acceptance": a schema-valid request may still name a
topic or recipient that does not exist, which the API rightly answers 404 or 422.
"""
from __future__ import annotations

import os

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

EXAMPLES = int(os.environ.get("PREFS_FUZZ_EXAMPLES", "25"))


def test_api_conforms_to_its_document(app, api, newsletter, person):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    headers = {"Authorization": f"Bearer {api.key}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 19  # every /api/v1 route (test_openapi.py checks the document covers them)
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
        def fuzz(case):
            case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

        try:
            fuzz()
        except Exception as error:
            raise AssertionError(f"{operation.method.upper()} {operation.path}: {error}") from error
