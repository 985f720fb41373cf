"""The preference center's form model: which boxes a person sees, and what a submitted form changes.

Pure: takes the catalogue and the person's state, returns plain data. The page compares the submitted
boxes with the ones it showed (sent back as hidden `shown` fields), so a box left as it was writes
nothing, and locked boxes (mandatory topics, texts after STOP), which browsers do not submit, are ignored.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..config import CHANNELS
from ..decision import ANY, RecipientState, TopicRule
from ..services.preferences import PreferenceChange

CHANNEL_WORDS = {"email": "email", "sms": "text message", "phone": "phone call", "post": "post"}
STOP_ALL = "stop_all"
MANDATORY_WHY = "Always on while your account is open: we must be able to reach you about your account and bills."
SMS_STOP_WHY = "You replied STOP to our texts. Text START to the same number to get texts again."


@dataclass
class Box:
    name: str  # topic:channel, *:channel, or stop_all; the form field name
    label: str
    on: bool
    locked: bool = False  # shown but not editable: a mandatory topic, or texts after STOP


@dataclass
class TopicRow:
    key: str
    name: str
    description: str
    mandatory: bool
    cells: dict[str, Box | None] = field(default_factory=dict)  # channel -> box, None where not sent


@dataclass
class PreferenceForm:
    channels: list[str]  # the channels the person has an address for
    rows: list[TopicRow]
    channel_boxes: list[Box]
    stop_all: Box
    sms_stopped: bool = False
    suppressed_channels: list[str] = field(default_factory=list)
    mandatory_why: str = MANDATORY_WHY
    sms_stop_why: str = SMS_STOP_WHY

    def editable(self) -> dict[str, Box]:
        boxes = [cell for row in self.rows for cell in row.cells.values() if cell] + self.channel_boxes + [self.stop_all]
        return {box.name: box for box in boxes if not box.locked}


def build_form(rules: Iterable[TopicRule], state: RecipientState) -> PreferenceForm:
    channels = [c for c in CHANNELS if c in state.channels_with_address]
    choices = state.choices
    rows = []
    for rule in sorted((r for r in rules if not r.archived), key=lambda r: (not r.mandatory, r.name.lower())):
        row = TopicRow(rule.key, rule.name, rule.description, rule.mandatory)
        for channel in channels:
            if channel not in rule.channels:
                row.cells[channel] = None
                continue
            label = f"{rule.name} by {CHANNEL_WORDS[channel]}"
            if rule.mandatory:
                row.cells[channel] = Box(f"{rule.key}:{channel}", label, True, True)
            else:
                choice = choices.get((rule.key, channel))
                wanted = choice if choice is not None else channel in rule.default_on
                # A suppressed address gets no marketing: show it unticked, so ticking it is the opt-in that lifts it.
                wanted = wanted and channel not in state.suppressed_channels
                row.cells[channel] = Box(f"{rule.key}:{channel}", label, wanted, channel == "sms" and state.sms_stopped)
        rows.append(row)
    channel_boxes = []
    for channel in channels:
        on = choices.get((ANY, channel)) is not False
        channel_boxes.append(Box(f"{ANY}:{channel}", f"Marketing by {CHANNEL_WORDS[channel]}", on, channel == "sms" and state.sms_stopped))
    stop_all = Box(STOP_ALL, "Stop all marketing, on every channel", choices.get((ANY, ANY)) is False)
    suppressed = [c for c in channels if c in state.suppressed_channels]
    return PreferenceForm(channels, rows, channel_boxes, stop_all, state.sms_stopped and "sms" in channels, suppressed)


def parse_shown(values: Iterable[str]) -> dict[str, bool]:
    """`shown` fields are `name=1` or `name=0`: what each box showed when the page was drawn."""
    shown = {}
    for value in values:
        name, _, state = value.rpartition("=")
        if name and state in ("0", "1"):
            shown[name] = state == "1"
    return shown


def changes_from_form(form: PreferenceForm, submitted: Mapping[str, object], shown: Mapping[str, bool]) -> list[PreferenceChange]:
    """The changes a submission asks for: boxes whose submitted state differs from what was shown.

    Without `shown` (a script posting the boxes alone), the current state stands in for it; with it, a box
    the page did not show (a topic added since) is left alone.
    """
    changes = []
    for name, box in form.editable().items():
        if shown and name not in shown:
            continue
        before = shown[name] if shown else box.on
        after = name in submitted
        if after == before:
            continue
        if name == STOP_ALL:
            changes.append(PreferenceChange(not after))
            continue
        topic, _, channel = name.partition(":")
        changes.append(PreferenceChange(after, None if topic == ANY else topic, channel))
    return changes
