"""Issue 10, finding 13: a consent date in the future (beyond 5 minutes of clock skew) or before 1990 cannot be
when a person consented. The API refuses it (422 invalid, a field error on evidence.collected_at) as the console
does: one rule, prefs/services/consent.py, behind both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

pytest_plugins = ["console_fixtures"]

CHANGE = {"topic": "newsletter", "channel": "email", "subscribed": True}


def stamp(when: str | timedelta) -> str:
    """A fixed date as it is; a timedelta as that far from now, taken when the test runs (not when collected)."""
    return (datetime.now(UTC) + when).isoformat() if isinstance(when, timedelta) else when


def opt_in_with_evidence(api, collected_at: str):
    return api.patch(
        "/recipients/cust-1/preferences",
        {"changes": [CHANGE], "evidence": {"collected_at": collected_at, "source": "signup form"}},
    )


@pytest.mark.parametrize(
    ("collected_at", "problem"),
    [
        (timedelta(hours=1), "in the future"),
        (timedelta(minutes=6), "in the future"),
        ("2999-01-01", "in the future"),
        ("1989-12-31T23:59:59Z", "before 1990"),
        ("1970-01-01T00:00:00+00:00", "before 1990"),
        ("1989-12-31", "before 1990"),
    ],
)
def test_the_api_refuses_a_consent_date_that_cannot_be_true(api, newsletter, person, collected_at, problem):
    before = api.get("/recipients/cust-1/events").get_json()["events"]
    response = opt_in_with_evidence(api, stamp(collected_at))
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "invalid"
    assert list(error["details"]) == ["evidence"] and list(error["details"]["evidence"]) == ["collected_at"]
    assert problem in error["details"]["evidence"]["collected_at"][0]
    assert api.get("/recipients/cust-1/events").get_json()["events"] == before  # all or nothing: nothing written


@pytest.mark.parametrize(
    "collected_at",
    [
        timedelta(minutes=2),
        timedelta(days=-1),
        "1990-01-01T00:00:00Z",
        "2020-02-29",
        "2016-01-05T10:30:00.123456+05:30",
    ],
)
def test_the_api_takes_any_real_moment_from_1990_to_now(api, newsletter, person, collected_at):
    collected_at = stamp(collected_at)
    response = opt_in_with_evidence(api, collected_at)
    assert response.status_code == 200, response.get_json()
    event = api.get("/recipients/cust-1/events").get_json()["events"][0]
    assert event["evidence"]["collected_at"] == collected_at


# A leap second and lower-case t/z are RFC 3339, but the usual `format: date-time` validators refuse them, and
# the document must not call valid what we refuse (or the reverse): refused alike.
@pytest.mark.parametrize(
    "collected_at",
    [
        "2021-02-29",
        "2026-11-01T10:00:00",
        "2026-11-01 10:00:00Z",
        "yesterday",
        "",
        "2016-12-31T23:59:60Z",
        "2016-01-05t10:30:00z",
    ],
)
def test_the_api_refuses_what_is_not_an_rfc_3339_date(api, newsletter, person, collected_at):
    response = opt_in_with_evidence(api, collected_at)
    assert response.status_code == 422 and "collected_at" in response.get_json()["error"]["details"]["evidence"]


def test_the_console_applies_the_same_rule(console, api, newsletter):
    api.put("/recipients/gone", {"email": "gone@example.com"})
    assert api.delete("/recipients/gone").status_code == 204  # leaves a suppression to lift
    agent = console("agent")
    results = agent.search("gone@example.com")
    for collected_at, problem in (
        ("1989-12-31T10:00", "before 1990"),
        ((datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"), "in the future"),
    ):
        refused = agent.submit_on(
            results, "/console/suppressions/lift", {"collected_at": collected_at, "source": "call", "reason": "asked"}
        )
        assert refused.status_code == 422 and problem in refused.get_data(as_text=True)
    assert (
        api.post("/check", {"email": "gone@example.com", "topic": "newsletter", "channel": "email"}).get_json()["reason"]
        == "suppressed"
    )
    lifted = agent.submit_on(
        results, "/console/suppressions/lift", {"collected_at": "1990-01-01T00:00", "source": "call", "reason": "asked"}
    )
    assert lifted.status_code == 303
