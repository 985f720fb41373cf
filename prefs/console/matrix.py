"""The recipient page's matrix: every topic on every channel with the decision in words, and the edit boxes.

Pure: combines the preference matrix (decisions and reasons) with the preference form's model
(prefs.services.preference_form: which boxes exist, which are locked), so the console and the preference
center compare a submitted form with the state they showed in exactly the same way.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass
from typing import Any

from ..channels import CHANNELS, SUPPRESSIBLE
from ..services.preference_form import Box, PreferenceForm
from .wording import reason_meaning, reason_words

MANDATORY_WHY = "Mandatory: service and billing messages cannot be switched off while the account is active."
SMS_STOP_WHY = "The person texted STOP: no texts at all until they text START from that number. Nobody else can lift it."


@dataclass
class Toggle:
    """A box as the page draws it: `checked` now (the submitted state after a refusal), `shown` first."""

    box: Box
    checked: bool
    shown: bool


@dataclass
class Cell:
    channel: str
    allowed: bool
    reason: str
    words: str
    meaning: str
    toggle: Toggle | None  # None: no box (no address on this channel)


@dataclass
class MatrixRow:
    key: str
    name: str
    description: str
    mandatory: bool
    cells: dict[str, Cell | None]  # channel -> cell; None where the topic is not sent


def toggle(box: Box, submitted: Container[str] | None, shown: Mapping[str, bool] | None) -> Toggle:
    if box.locked:
        return Toggle(box, box.on, box.on)
    first = shown.get(box.name, box.on) if shown else box.on
    return Toggle(box, box.name in submitted if submitted is not None else box.on, first)


def matrix_rows(
    matrix: Mapping[str, Any],
    form: PreferenceForm,
    submitted: Container[str] | None = None,
    shown: Mapping[str, bool] | None = None,
) -> list[MatrixRow]:
    """Rows in the preference center's order; decisions from the matrix, boxes from the form."""
    decided = {topic["key"]: topic for topic in matrix["topics"]}
    rows = []
    for form_row in form.rows:
        topic = decided[form_row.key]
        cells: dict[str, Cell | None] = {}
        for channel in CHANNELS:
            decision = topic["channels"].get(channel)
            if decision is None:
                cells[channel] = None
                continue
            box = form_row.cells.get(channel)
            reason = decision["reason"]
            cells[channel] = Cell(
                channel,
                decision["allowed"],
                reason,
                reason_words(reason),
                reason_meaning(reason),
                toggle(box, submitted, shown) if box else None,
            )
        rows.append(MatrixRow(form_row.key, form_row.name, form_row.description, form_row.mandatory, cells))
    return rows


def reasons_in(rows: list[MatrixRow]) -> list[tuple[str, str]]:
    """The reasons the matrix shows, each once, with what they mean: the table's legend."""
    seen: dict[str, str] = {}
    for row in rows:
        for cell in row.cells.values():
            if cell is not None and cell.reason not in seen:
                seen[cell.reason] = cell.meaning
    return [(reason_words(reason), meaning) for reason, meaning in seen.items()]


ADDRESS_WORDS = {address.field: address.words for address in SUPPRESSIBLE}  # the lift boxes' labels
LIFT_FIELD = "lift"
