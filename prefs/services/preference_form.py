"""The preference form's model, for the preference center and the console's page of a person alike: which
boxes exist, which are locked and why, and which changes a submitted form asks for.

Pure: takes the catalogue and the person's state, returns plain data. A page compares the submitted
boxes with the ones it showed (sent back as hidden `shown` fields), so a box left as it was writes
nothing, and locked boxes (mandatory topics, texts after STOP), which browsers do not submit, are ignored.
The sentences that say why a box is locked are each page's own; here a locked box names its reason.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field

from ..channels import CHANNEL_WORDS, CHANNELS, KEYWORD_STOPPED, REGISTRY, SUPPRESSIBLE, channels_reaching
from ..decision import ANY, RecipientState, TopicRule
from ..errors import PrefsError
from .preferences import PreferenceChange

STOP_ALL = "stop_all"
# A suppressed address is lifted by the person's opt-in to marketing on a channel of it (SPEC §2): the
# first channel reaching it that no keyword stops (the phone number's: calls, since texts need START).
LIFT_CHANNEL = {
    address.field: next(c for c in CHANNELS if REGISTRY[c].address is address and not REGISTRY[c].keyword_stop)
    for address in SUPPRESSIBLE
}


@dataclass
class Box:
    name: str  # topic:channel, *:channel, or stop_all; the form field name
    label: str
    on: bool
    locked: bool = False  # shown but not editable: a mandatory topic, texts after STOP, an opt-in this link may not make
    why: str = ""  # the id (after "why-") of the sentence that says why it is locked


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
    link_limits: dict[str, str] = field(default_factory=dict)  # channel -> why this link cannot switch it on

    def editable(self) -> dict[str, Box]:
        boxes = [cell for row in self.rows for cell in row.cells.values() if cell] + self.channel_boxes + [self.stop_all]
        return {box.name: box for box in boxes if not box.locked}


def build_form(rules: Iterable[TopicRule], state: RecipientState, link_limits: Mapping[str, str] | None = None) -> PreferenceForm:
    """`link_limits` (channel -> reason) are the channels that the link in hand may not switch on: their
    boxes that are off are locked; those that are on can still be switched off."""
    limits = {channel: reason for channel, reason in (link_limits or {}).items() if channel in state.channels_with_address}
    channels = [c for c in CHANNELS if c in state.channels_with_address]
    sms_stopped = state.sms_stopped and bool(KEYWORD_STOPPED.intersection(channels))
    choices = state.choices

    def box(name: str, label: str, on: bool, channel: str) -> Box:
        if channel in KEYWORD_STOPPED and sms_stopped:
            return Box(name, label, on, True, "sms-stop")
        if channel in limits and not on:
            return Box(name, label, on, True, f"limit-{channel}")
        return Box(name, label, on)

    rows = []
    for rule in sorted((r for r in rules if not r.archived), key=lambda r: (not r.mandatory, r.name.lower())):
        row = TopicRow(rule.key, rule.name, rule.description, rule.mandatory)
        for channel in channels:
            if channel not in rule.channels:
                row.cells[channel] = None
                continue
            label = f"{rule.name} by {CHANNEL_WORDS[channel]}"
            if rule.mandatory:
                row.cells[channel] = Box(f"{rule.key}:{channel}", label, True, True, rule.key)
            else:
                choice = choices.get((rule.key, channel))
                wanted = choice if choice is not None else channel in rule.default_on
                # A suppressed address gets no marketing: show it unticked, so ticking it is the opt-in that lifts it.
                wanted = wanted and channel not in state.suppressed_channels
                row.cells[channel] = box(f"{rule.key}:{channel}", label, wanted, channel)
        rows.append(row)
    channel_boxes = [
        box(f"{ANY}:{channel}", f"Marketing by {CHANNEL_WORDS[channel]}", choices.get((ANY, channel)) is not False, channel)
        for channel in channels
    ]
    stop_all = Box(STOP_ALL, "Stop all marketing, on every channel", choices.get((ANY, ANY)) is False)
    suppressed = [c for c in channels if c in state.suppressed_channels]
    boxes = [cell for row in rows for cell in row.cells.values() if cell] + channel_boxes
    locked_by_limit = {b.why.removeprefix("limit-") for b in boxes if b.why.startswith("limit-")}
    shown_limits = {channel: reason for channel, reason in limits.items() if channel in locked_by_limit}
    return PreferenceForm(channels, rows, channel_boxes, stop_all, sms_stopped, suppressed, shown_limits)


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


def liftable_kinds(state: RecipientState) -> list[str]:
    """The address kinds (email, phone) of a person that are suppressed and that staff may lift with the
    person's consent; never a number that texted STOP (only START from it lifts that)."""
    return [
        kind
        for kind, channel in LIFT_CHANNEL.items()
        if channel in state.suppressed_channels and not (state.sms_stopped and channels_reaching(kind) & KEYWORD_STOPPED)
    ]


def lift_changes(requested: Container[str], form: PreferenceForm, submitted: Container[str]) -> list[PreferenceChange]:
    """The opt-ins that lift the requested suppressions (address kinds): marketing on that address's channel.

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
