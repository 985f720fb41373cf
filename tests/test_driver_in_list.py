"""DriverSql's `{in_list}`: any number of values as one bound parameter, the same rows on both databases
whatever the values hold (db/driver.py sends text as a JSON array and numbers as an array literal)."""

from __future__ import annotations

import pytest

from prefs.db.driver import DriverSql
from prefs.db.statements import RECIPIENT_PKS_BY_ID, STORED_CHOICES_OF, SUPPRESSED_HASHES
from prefs.db.transactions import unit_of_work


def _select_in(statement: str, values: list) -> list[tuple]:
    return unit_of_work(lambda: DriverSql().select_in(statement, values))


def test_text_values_match_exactly_whatever_they_hold(app, api):
    for recipient_id in ("r1", "r2", "NULL"):
        assert api.put(f"/recipients/{recipient_id}", {"email": f"{recipient_id.lower()}@example.com"}).status_code == 201
    # Characters that an array literal or JSON would have to escape, and a word an array literal reads as null.
    asked = ['r1"', "r1\\", "r1,r2", "{r1}", "r 1", "ü", "null", "NULL", "r2", "r2"]
    with app.app_context():
        found = sorted(recipient_id for recipient_id, _pk in _select_in(RECIPIENT_PKS_BY_ID, asked))
    assert found == ["NULL", "r2"]


def test_whole_numbers_match_and_an_empty_list_reads_nothing(app, api, newsletter, person):
    change = {"changes": [{"topic": "newsletter", "channel": "sms", "subscribed": True}]}
    assert api.patch("/recipients/cust-1/preferences", change).status_code == 200
    with app.app_context():
        ((_id, pk),) = _select_in(RECIPIENT_PKS_BY_ID, ["cust-1"])
        choices = _select_in(STORED_CHOICES_OF, [pk + 1000, pk, pk])
        assert [(row[0], row[1], row[2], bool(row[3])) for row in choices] == [(pk, "newsletter", "sms", True)]
        assert _select_in(SUPPRESSED_HASHES, []) == []


def test_a_mix_of_numbers_and_text_is_refused(app):
    with app.app_context(), pytest.raises(TypeError):
        _select_in(RECIPIENT_PKS_BY_ID, ["r1", 2])
