"""The recipient page's matrix: every topic on every channel with the decision in words, and the edit boxes.

Pure: combines the preference matrix (decisions and reasons) with the preference center's form model
(prefs.services.preference_form: which boxes exist, which are locked), so the console and the preference center compare
a submitted form with the state they showed in exactly the same way.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass
from typing import Any

from ..channels import CHANNEL_WORDS, CHANNELS, KEYWORD_STOPPED, REGISTRY, SUPPRESSIBLE, channels_reaching
from ..decision import ANY, RecipientState
from ..errors import PrefsError
from ..services.preference_form import Box, PreferenceForm
from ..services.preferences import PreferenceChange
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


# A suppressed address is lifted by the person's opt-in to marketing on a channel of it (SPEC §2): the
# first channel reaching it that no keyword stops (the phone number's: calls, since texts need START).
LIFT_CHANNEL = {
    address.field: next(c for c in CHANNELS if REGISTRY[c].address is address and not REGISTRY[c].keyword_stop)
    for address in SUPPRESSIBLE
}
ADDRESS_WORDS = {address.field: address.words for address in SUPPRESSIBLE}
LIFT_FIELD = "lift"


def liftable_kinds(state: RecipientState) -> list[str]:
    """The address kinds (email, phone) of a person that are suppressed, for the page's lift boxes; never a
    number that texted STOP (only START from it lifts that)."""
    return [
        kind
        for kind, channel in LIFT_CHANNEL.items()
        if channel in state.suppressed_channels and not (state.sms_stopped and channels_reaching(kind) & KEYWORD_STOPPED)
    ]


def lift_changes(requested: Container[str], form: PreferenceForm, submitted: Container[str]) -> list[PreferenceChange]:
    """The opt-ins that lift the requested suppressions: marketing on that address's channel.

    Raises PrefsError(invalid) when the same form leaves that channel stopped: the person cannot both
    consent to and refuse marketing there.
    """
    changes = []
    editable = form.editable()
    for kind, channel in LIFT_CHANNEL.items():
        if kind not in requested:
            continue
        box = f"{ANY}:{channel}"
        if box in editable and box not in submitted:
            words = CHANNEL_WORDS[channel]
            raise PrefsError(
                "invalid",
                f"Tick “Marketing by {words}” too: lifting the suppression is the person's opt-in to marketing by {words}.",
            )
        changes.append(PreferenceChange(True, None, channel))
    return changes
