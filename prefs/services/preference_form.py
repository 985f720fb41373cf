"""The preference form's model, for the preference center and the console's page of a person alike: which
boxes exist, which are locked and why, and which changes a submitted form asks for.

Pure: takes the catalogue and the person's state, returns plain data. The recipient pages draw each box as
what the person gets now (SPEC §16): `decision.decide` answers for every topic box, the one rule every
reader calls, and a box that a channel stop or the all-marketing stop blocks is locked, naming that stop,
whose own box lifts it. The console shows the decisions beside the boxes, so its boxes are the stored
choices. A page compares the submitted
boxes with the ones it showed (sent back as hidden `shown` fields), so a box left as it was writes
nothing, and locked boxes (mandatory topics, texts after STOP), which browsers do not submit, are ignored.
The sentences that say why a box is locked are each page's own; here a locked box names its reason.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ..channels import CHANNEL_WORDS, CHANNELS, KEYWORD_STOPPED, REGISTRY, SUPPRESSIBLE, channels_reaching
from ..decision import ANY, RecipientState, TopicRule, decide, gets_default
from ..errors import PrefsError
from .preferences import PreferenceChange

STOP_ALL = "stop_all"
# Why a box is locked, besides a mandatory topic (its key), the SMS stop and a link's limits.
STOPPED_ALL = "stop-all"  # the all-marketing stop blocks it; unticking "stop all marketing" lifts it
STOPPED_CHANNEL = "stop-"  # + channel: that channel's stop blocks it; its "marketing by" box lifts it
# Decisions no box on the page can change: the person's tick would be stored and still not be sent.
FIXED_REASONS = frozenset({"undeliverable", "deactivated", "erased", "no_address", "sms_stop"})
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
    reason: str = ""  # the decision rule's reason, where the box shows a decision (recipient pages)


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
    stopped_channels: list[str] = field(default_factory=list)  # channels whose own stop is in force
    all_stopped: bool = False  # the all-marketing stop is in force
    undeliverable_channels: list[str] = field(default_factory=list)

    @property
    def marketing_rows(self) -> list[TopicRow]:
        return [row for row in self.rows if not row.mandatory]

    @property
    def mandatory_rows(self) -> list[TopicRow]:
        return [row for row in self.rows if row.mandatory]

    @property
    def marketing_channels(self) -> list[str]:
        """The channels some marketing topic is sent on: the only ones a page needs a column or a stop for."""
        return [c for c in self.channels if any(row.cells.get(c) for row in self.marketing_rows)]

    def whys(self) -> set[str]:
        """The reasons some box is locked for, each naming the sentence the page shows once."""
        boxes = [cell for row in self.rows for cell in row.cells.values() if cell] + self.channel_boxes
        return {box.why for box in boxes if box.locked}

    def editable(self) -> dict[str, Box]:
        boxes = [cell for row in self.rows for cell in row.cells.values() if cell] + self.channel_boxes + [self.stop_all]
        return {box.name: box for box in boxes if not box.locked}


def build_form(
    rules: Iterable[TopicRule],
    state: RecipientState,
    link_limits: Mapping[str, str] | None = None,
    *,
    decided_at: datetime | None = None,
) -> PreferenceForm:
    """`link_limits` (channel -> reason) are the channels that the link in hand may not switch on: their
    boxes that are off are locked; those that are on can still be switched off.

    With `decided_at`, every topic box shows what `decision.decide` answers at that moment (quiet hours
    aside: they say when, not whether), and the boxes a stop blocks are locked, unticked, naming it; a
    channel box under the all-marketing stop likewise. Without it, topic boxes show the stored choice or
    the topic's default (the console, which prints the decision beside each box).
    """
    limits = {channel: reason for channel, reason in (link_limits or {}).items() if channel in state.channels_with_address}
    channels = [c for c in CHANNELS if c in state.channels_with_address]
    sms_stopped = state.sms_stopped and bool(KEYWORD_STOPPED.intersection(channels))
    choices = state.choices
    truthful = decided_at is not None
    all_stopped = choices.get((ANY, ANY)) is False

    def box(name: str, label: str, on: bool, channel: str, reason: str = "") -> Box:
        if channel in KEYWORD_STOPPED and sms_stopped:
            return Box(name, label, on, True, "sms-stop", reason)
        if truthful and reason == "all_marketing_unsubscribed":
            return Box(name, label, False, True, STOPPED_ALL, reason)
        if truthful and reason == "channel_unsubscribed":
            return Box(name, label, False, True, STOPPED_CHANNEL + channel, reason)
        if truthful and reason in FIXED_REASONS:
            return Box(name, label, on, True, reason.replace("_", "-"), reason)
        if channel in limits and not on:
            return Box(name, label, on, True, f"limit-{channel}", reason)
        return Box(name, label, on, reason=reason)

    rows = []
    for rule in sorted((r for r in rules if not r.archived), key=lambda r: (not r.mandatory, r.name.lower())):
        row = TopicRow(rule.key, rule.name, rule.description, rule.mandatory)
        for channel in channels:
            if channel not in rule.channels:
                row.cells[channel] = None
                continue
            label = f"{rule.name} by {CHANNEL_WORDS[channel]}"
            name = f"{rule.key}:{channel}"
            if decided_at is not None:
                decision = decide(rule, channel, state, at=decided_at, quiet_hours=None)
                if rule.mandatory:  # locked; off only where the rule ends even these (an SMS stop, a dead address)
                    why = rule.key if decision.allowed else decision.reason.replace("_", "-")
                    row.cells[channel] = Box(name, label, decision.allowed, True, why, decision.reason)
                else:
                    row.cells[channel] = box(name, label, decision.allowed, channel, decision.reason)
            elif rule.mandatory:
                row.cells[channel] = Box(name, label, True, True, rule.key)
            else:
                choice = choices.get((rule.key, channel))
                wanted = choice if choice is not None else gets_default(rule, channel, state)
                # A suppressed address gets no marketing: show it unticked, so ticking it is the opt-in that lifts it.
                wanted = wanted and channel not in state.suppressed_channels
                row.cells[channel] = box(name, label, wanted, channel)
        rows.append(row)
    channel_boxes = [
        box(
            f"{ANY}:{channel}",
            f"Marketing by {CHANNEL_WORDS[channel]}",
            choices.get((ANY, channel)) is not False,
            channel,
            "all_marketing_unsubscribed" if all_stopped else "",
        )
        for channel in channels
    ]
    stop_all = Box(STOP_ALL, "Stop all marketing, on every channel", all_stopped)
    suppressed = [c for c in channels if c in state.suppressed_channels]
    boxes = [cell for row in rows for cell in row.cells.values() if cell] + channel_boxes
    locked_by_limit = {b.why.removeprefix("limit-") for b in boxes if b.why.startswith("limit-")}
    shown_limits = {channel: reason for channel, reason in limits.items() if channel in locked_by_limit}
    stopped = [c for c in channels if choices.get((ANY, c)) is False]
    undeliverable = [c for c in channels if c in state.undeliverable_channels]
    return PreferenceForm(
        channels, rows, channel_boxes, stop_all, sms_stopped, suppressed, shown_limits, stopped, all_stopped, undeliverable
    )


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
