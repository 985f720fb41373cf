"""SPEC §3, §15 (rule 6a) and §17, row by row: the decision rule is a pure function, so it is tested directly, with fixed clocks."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from prefs import channels
from prefs.addresses import phone_time_zones
from prefs.channels import DO_NOT_CALL, EMAIL, TIME_RESTRICTED, Channel, register
from prefs.decision import ANY, QuietHours, RecipientState, TopicRule, decide

ALL = frozenset({"email", "sms", "phone", "post"})
WINDOW = QuietHours.parse("21:00-08:00")  # PREFS_QUIET_HOURS' default
NEW_YORK = ZoneInfo("America/New_York")
NOON_IN_NEW_YORK = datetime(2026, 6, 15, 12, 0, tzinfo=NEW_YORK)  # the rows of §3 are asked at an hour no quiet hours touch

NEWSLETTER = TopicRule("newsletter", "Newsletter", False, frozenset({"email", "sms"}), frozenset({"email"}))
OFFERS = TopicRule("offers", "Offers", False, frozenset({"email", "sms", "phone"}), frozenset({"email"}))
BILLING = TopicRule("billing", "Billing", True, ALL, ALL)
ARCHIVED = TopicRule("old", "Old", False, frozenset({"email"}), frozenset({"email"}), archived=True)
EMAIL_DEAD = frozenset({"email"})  # a provider reported the email address undeliverable (rule 6a)
ARCHIVED_MANDATORY_OFF_CHANNEL = TopicRule("odd", "Odd", True, frozenset({"email"}), frozenset(), archived=True)


def person(**overrides) -> RecipientState:
    values = dict(
        id="p1",
        status="active",
        channels_with_address=ALL,
        sms_stopped=False,
        suppressed_channels=frozenset(),
        choices={},
        phone="+12125550123",  # New York
    )
    values.update(overrides)
    return RecipientState(**values)


# (case, topic, channel, recipient, address_suppressed, allowed, reason): one or more per row, then precedence.
CASES = [
    # 1 archived, and it beats everything after it, even a mandatory topic
    ("archived", ARCHIVED, "email", person(), False, False, "topic_archived"),
    ("archived beats not-on-channel", ARCHIVED_MANDATORY_OFF_CHANNEL, "sms", person(), False, False, "topic_archived"),
    ("archived beats unknown", ARCHIVED, "email", None, True, False, "topic_archived"),
    # 2 topic not on channel, before anything about the person
    ("not on channel", NEWSLETTER, "post", person(), False, False, "topic_not_on_channel"),
    ("not on channel beats unknown", NEWSLETTER, "phone", None, True, False, "topic_not_on_channel"),
    ("not on channel beats deactivated", NEWSLETTER, "post", person(status="deactivated"), False, False, "topic_not_on_channel"),
    # 3 unknown and suppressed; 4 unknown
    ("unknown, address suppressed", NEWSLETTER, "email", None, True, False, "suppressed"),
    ("unknown, suppressed, mandatory", BILLING, "email", None, True, False, "suppressed"),
    ("unknown", NEWSLETTER, "email", None, False, False, "unknown_recipient"),
    ("unknown, mandatory", BILLING, "sms", None, False, False, "unknown_recipient"),
    # 5 deactivated / erased, even for mandatory topics, before no_address
    ("deactivated", NEWSLETTER, "email", person(status="deactivated"), False, False, "deactivated"),
    ("deactivated, mandatory", BILLING, "email", person(status="deactivated"), False, False, "deactivated"),
    ("erased, mandatory", BILLING, "email", person(status="erased", channels_with_address=frozenset()), False, False, "erased"),
    # 6 no address for the channel, even for mandatory topics
    ("no address", NEWSLETTER, "sms", person(channels_with_address=frozenset({"email"})), False, False, "no_address"),
    (
        "no address, mandatory",
        BILLING,
        "post",
        person(channels_with_address=frozenset({"email", "sms", "phone"})),
        False,
        False,
        "no_address",
    ),
    (
        "no address beats sms stop",
        BILLING,
        "sms",
        person(channels_with_address=frozenset({"email"}), sms_stopped=True),
        False,
        False,
        "no_address",
    ),
    # 6a (SPEC §15) a provider reported the email address dead: every email stops, mandatory included; only
    # the end of the account and a missing address come first; other channels are unaffected
    (
        "undeliverable, mandatory",
        BILLING,
        "email",
        person(undeliverable_channels=EMAIL_DEAD),
        False,
        False,
        "undeliverable",
    ),
    (
        "undeliverable beats every later rule",
        NEWSLETTER,
        "email",
        person(
            undeliverable_channels=EMAIL_DEAD,
            suppressed_channels=frozenset({"email"}),
            choices={(ANY, ANY): False, (ANY, "email"): False, ("newsletter", "email"): True},
        ),
        False,
        False,
        "undeliverable",
    ),
    ("undeliverable leaves sms", BILLING, "sms", person(undeliverable_channels=EMAIL_DEAD), False, True, "mandatory"),
    (
        "undeliverable leaves an sms stop to texts",
        BILLING,
        "sms",
        person(undeliverable_channels=EMAIL_DEAD, sms_stopped=True),
        False,
        False,
        "sms_stop",
    ),
    (
        "deactivated beats undeliverable",
        BILLING,
        "email",
        person(status="deactivated", undeliverable_channels=EMAIL_DEAD),
        False,
        False,
        "deactivated",
    ),
    (
        "no address beats undeliverable",
        BILLING,
        "email",
        person(channels_with_address=frozenset({"sms"}), undeliverable_channels=EMAIL_DEAD),
        False,
        False,
        "no_address",
    ),
    # 7 SMS stop: texts of every kind stop, mandatory included; other channels unaffected
    ("sms stop, mandatory", BILLING, "sms", person(sms_stopped=True), False, False, "sms_stop"),
    (
        "sms stop, marketing",
        NEWSLETTER,
        "sms",
        person(sms_stopped=True, choices={("newsletter", "sms"): True}),
        False,
        False,
        "sms_stop",
    ),
    ("sms stop leaves email", BILLING, "email", person(sms_stopped=True), False, True, "mandatory"),
    ("sms stop leaves phone calls", BILLING, "phone", person(sms_stopped=True), False, True, "mandatory"),
    # 8 mandatory beats suppression and every marketing stop
    ("mandatory", BILLING, "email", person(), False, True, "mandatory"),
    (
        "mandatory beats every stop",
        BILLING,
        "sms",
        person(
            suppressed_channels=frozenset({"email", "sms", "phone"}),
            choices={(ANY, ANY): False, (ANY, "sms"): False, ("billing", "sms"): False},
        ),
        False,
        True,
        "mandatory",
    ),
    # 9 suppressed address, before any choice
    (
        "suppressed",
        NEWSLETTER,
        "email",
        person(suppressed_channels=frozenset({"email"}), choices={("newsletter", "email"): True}),
        False,
        False,
        "suppressed",
    ),
    (
        "suppressed phone blocks sms",
        NEWSLETTER,
        "sms",
        person(suppressed_channels=frozenset({"sms", "phone"})),
        False,
        False,
        "suppressed",
    ),
    (
        "email suppression leaves sms",
        NEWSLETTER,
        "sms",
        person(suppressed_channels=frozenset({"email"}), choices={("newsletter", "sms"): True}),
        False,
        True,
        "subscribed",
    ),
    # 10 all-marketing stop beats a channel stop and a topic opt-in
    (
        "all marketing",
        NEWSLETTER,
        "email",
        person(choices={(ANY, ANY): False, (ANY, "email"): False, ("newsletter", "email"): True}),
        False,
        False,
        "all_marketing_unsubscribed",
    ),
    # 11 channel stop beats a topic opt-in on that channel only
    (
        "channel stop",
        NEWSLETTER,
        "email",
        person(choices={(ANY, "email"): False, ("newsletter", "email"): True}),
        False,
        False,
        "channel_unsubscribed",
    ),
    (
        "channel stop is per channel",
        NEWSLETTER,
        "sms",
        person(choices={(ANY, "email"): False, ("newsletter", "sms"): True}),
        False,
        True,
        "subscribed",
    ),
    # 12 a stored choice beats the default, both ways
    (
        "opted in where default is off",
        NEWSLETTER,
        "sms",
        person(choices={("newsletter", "sms"): True}),
        False,
        True,
        "subscribed",
    ),
    (
        "opted out where default is on",
        NEWSLETTER,
        "email",
        person(choices={("newsletter", "email"): False}),
        False,
        False,
        "unsubscribed",
    ),
    (
        "choice of another topic ignored",
        NEWSLETTER,
        "email",
        person(choices={("offers", "email"): False}),
        False,
        True,
        "default",
    ),
    # 13 the topic's default per channel
    ("default on", NEWSLETTER, "email", person(), False, True, "default"),
    ("default off", NEWSLETTER, "sms", person(), False, False, "no_consent"),
    ("address suppression flag ignored for a known person", NEWSLETTER, "email", person(), True, True, "default"),
]


@pytest.mark.parametrize(
    ("case", "topic", "channel", "recipient", "address_suppressed", "allowed", "reason"), CASES, ids=[c[0] for c in CASES]
)
def test_decision_rule(case, topic, channel, recipient, address_suppressed, allowed, reason):
    decision = decide(topic, channel, recipient, address_suppressed, at=NOON_IN_NEW_YORK, quiet_hours=WINDOW)
    assert (decision.allowed, decision.reason) == (allowed, reason)


# --- SPEC §17: quiet hours (a row after 8), then the do-not-call list, then rule 9 on ----------------------
def ny(day: int, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time in New York in December 2026 (EST, UTC-5)."""
    return datetime(2026, 12, day, hour, minute, tzinfo=NEW_YORK)


def utc(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 6, 15, hour, minute, tzinfo=UTC)  # June: Sydney UTC+10, Lord Howe +10:30, Perth +8, Cocos +6:30


TEXTS_OK = {("newsletter", "sms"): True, ("offers", "sms"): True, ("offers", "phone"): True}  # opted in, no evidence
LIST_DAY = ny(1, 12).date()
AUSTRALIAN_MOBILE = "+61412345678"  # libphonenumber: eight zones, Cocos (UTC+6:30) to Lord Howe (+10:30)
SYDNEY_LANDLINE = "+61298765432"


def texter(**overrides) -> RecipientState:
    return person(**{"choices": TEXTS_OK, **overrides})


def listed(**overrides) -> RecipientState:
    return texter(**{"on_do_not_call_list": True, "dnc_list_as_of": LIST_DAY, **overrides})


# (case, topic, channel, recipient, at, quiet_hours, allowed, reason)
CASES_17 = [
    # quiet hours: the +1 212 number is New York's; 21:00 to 08:00 there is quiet
    ("20:59 in New York", NEWSLETTER, "sms", texter(), ny(1, 20, 59), WINDOW, True, "subscribed"),
    ("21:00 in New York", NEWSLETTER, "sms", texter(), ny(1, 21, 0), WINDOW, False, "quiet_hours"),
    ("07:59 in New York", OFFERS, "phone", texter(), ny(2, 7, 59), WINDOW, False, "quiet_hours"),
    ("08:00 in New York", OFFERS, "phone", texter(), ny(2, 8, 0), WINDOW, True, "subscribed"),
    ("the same instant given in UTC", NEWSLETTER, "sms", texter(), ny(1, 21).astimezone(UTC), WINDOW, False, "quiet_hours"),
    ("quiet hours are for calls and texts only", OFFERS, "email", texter(), ny(1, 23), WINDOW, True, "default"),
    ("mandatory is exempt", BILLING, "sms", texter(), ny(1, 23), WINDOW, True, "mandatory"),
    ("mandatory by phone is exempt", BILLING, "phone", texter(), ny(2, 3), WINDOW, True, "mandatory"),
    ("PREFS_QUIET_HOURS empty: off", NEWSLETTER, "sms", texter(), ny(2, 3), None, True, "subscribed"),
    ("another window", NEWSLETTER, "sms", texter(), ny(1, 20, 30), QuietHours.parse("20:00-09:00"), False, "quiet_hours"),
    ("an SMS stop comes first", NEWSLETTER, "sms", texter(sms_stopped=True), ny(1, 22), WINDOW, False, "sms_stop"),
    (
        "no address comes first",
        NEWSLETTER,
        "sms",
        texter(channels_with_address=frozenset({"email"})),
        ny(1, 22),
        WINDOW,
        False,
        "no_address",
    ),  # fmt: skip
    (
        "quiet hours before suppression",
        NEWSLETTER,
        "sms",
        texter(suppressed_channels=frozenset({"sms", "phone"})),
        ny(1, 22),
        WINDOW,
        False,
        "quiet_hours",
    ),  # fmt: skip
    (
        "quiet hours before a stop",
        NEWSLETTER,
        "sms",
        person(choices={(ANY, ANY): False}),
        ny(1, 22),
        WINDOW,
        False,
        "quiet_hours",
    ),  # fmt: skip
    # a number spanning several zones is allowed only when every one of them is inside the window
    ("several zones, all inside", NEWSLETTER, "sms", texter(phone=AUSTRALIAN_MOBILE), utc(3), WINDOW, True, "subscribed"),
    (
        "several zones, 08:00 in Sydney, 06:30 in Cocos",
        NEWSLETTER,
        "sms",
        texter(phone=AUSTRALIAN_MOBILE),
        utc(0),
        WINDOW,
        False,
        "quiet_hours",
    ),  # fmt: skip
    (
        "several zones, 21:00 on Lord Howe, 20:30 in Sydney",
        OFFERS,
        "phone",
        texter(phone=AUSTRALIAN_MOBILE),
        utc(10, 30),
        WINDOW,
        False,
        "quiet_hours",
    ),  # fmt: skip
    (
        "several zones, 20:59 on Lord Howe",
        OFFERS,
        "phone",
        texter(phone=AUSTRALIAN_MOBILE),
        utc(10, 29),
        WINDOW,
        True,
        "subscribed",
    ),  # fmt: skip
    (
        "one zone: a Sydney landline at 10:00 there",
        NEWSLETTER,
        "sms",
        texter(phone=SYDNEY_LANDLINE),
        utc(0),
        WINDOW,
        True,
        "subscribed",
    ),  # fmt: skip
    # a stored time zone overrides the number's
    (
        "stored zone: 21:30 in New York is 18:30 in Los Angeles",
        NEWSLETTER,
        "sms",
        texter(time_zone="America/Los_Angeles"),
        ny(1, 21, 30),
        WINDOW,
        True,
        "subscribed",
    ),  # fmt: skip
    (
        "stored zone: 16:00 in New York is 21:00 in London",
        NEWSLETTER,
        "sms",
        texter(time_zone="Europe/London"),
        ny(1, 16),
        WINDOW,
        False,
        "quiet_hours",
    ),  # fmt: skip
    (
        "stored zone narrows several to one",
        NEWSLETTER,
        "sms",
        texter(phone=AUSTRALIAN_MOBILE, time_zone="Australia/Sydney"),
        utc(0),
        WINDOW,
        True,
        "subscribed",
    ),  # fmt: skip
    # a number whose zone cannot be told (an international freephone) is held to quiet hours at any hour
    ("no zone known", NEWSLETTER, "sms", texter(phone="+80012345678"), utc(15), WINDOW, False, "quiet_hours"),
    (
        "no zone known, a zone stored",
        NEWSLETTER,
        "sms",
        texter(phone="+80012345678", time_zone="Europe/Paris"),
        utc(10),
        WINDOW,
        True,
        "subscribed",
    ),  # fmt: skip
    # the do-not-call list, after quiet hours: marketing by phone and sms only
    ("listed: sms", NEWSLETTER, "sms", listed(), ny(1, 12), WINDOW, False, "do_not_call"),
    ("listed: phone", OFFERS, "phone", listed(), ny(1, 12), WINDOW, False, "do_not_call"),
    ("listed: email is not the list's", OFFERS, "email", listed(), ny(1, 12), WINDOW, True, "default"),
    ("listed: billing by sms", BILLING, "sms", listed(), ny(1, 12), WINDOW, True, "mandatory"),
    ("listed: billing by phone", BILLING, "phone", listed(), ny(1, 12), WINDOW, True, "mandatory"),
    ("listed, at 21:00: quiet hours first", NEWSLETTER, "sms", listed(), ny(1, 21), WINDOW, False, "quiet_hours"),
    (
        "listed beats suppression",
        NEWSLETTER,
        "sms",
        listed(suppressed_channels=frozenset({"sms", "phone"})),
        ny(1, 12),
        WINDOW,
        False,
        "do_not_call",
    ),  # fmt: skip
    (
        "listed, no choice",
        OFFERS,
        "sms",
        person(on_do_not_call_list=True, dnc_list_as_of=LIST_DAY),
        ny(1, 12),
        WINDOW,
        False,
        "do_not_call",
    ),  # fmt: skip
    ("not listed", NEWSLETTER, "sms", texter(dnc_list_as_of=LIST_DAY), ny(1, 12), WINDOW, True, "subscribed"),
    ("no list loaded", NEWSLETTER, "sms", texter(on_do_not_call_list=False), ny(1, 12), WINDOW, True, "subscribed"),
    # an opt-in with evidence lifts it, for that topic on that channel only
    (
        "listed, opted in with evidence",
        NEWSLETTER,
        "sms",
        listed(opted_in_with_evidence=frozenset({("newsletter", "sms")})),
        ny(1, 12),
        WINDOW,
        True,
        "subscribed",
    ),  # fmt: skip
    (
        "evidence for another topic",
        NEWSLETTER,
        "sms",
        listed(opted_in_with_evidence=frozenset({("offers", "sms")})),
        ny(1, 12),
        WINDOW,
        False,
        "do_not_call",
    ),  # fmt: skip
    (
        "evidence for texts, not calls",
        OFFERS,
        "phone",
        listed(opted_in_with_evidence=frozenset({("offers", "sms")})),
        ny(1, 12),
        WINDOW,
        False,
        "do_not_call",
    ),  # fmt: skip
    (
        "evidence does not beat quiet hours",
        NEWSLETTER,
        "sms",
        listed(opted_in_with_evidence=frozenset({("newsletter", "sms")})),
        ny(1, 21),
        WINDOW,
        False,
        "quiet_hours",
    ),  # fmt: skip
    (
        "evidence does not beat a later stop",
        NEWSLETTER,
        "sms",
        listed(opted_in_with_evidence=frozenset({("newsletter", "sms")}), choices={**TEXTS_OK, (ANY, "sms"): False}),
        ny(1, 12),
        WINDOW,
        False,
        "channel_unsubscribed",
    ),  # fmt: skip
    # a list older than 31 days (as of the moment asked about) answers dnc_list_stale for those checks
    (
        "list 32 days old",
        NEWSLETTER,
        "sms",
        texter(dnc_list_as_of=LIST_DAY - timedelta(days=32)),
        ny(1, 12),
        WINDOW,
        False,
        "dnc_list_stale",
    ),  # fmt: skip
    (
        "list 32 days old, listed",
        OFFERS,
        "phone",
        listed(dnc_list_as_of=LIST_DAY - timedelta(days=32)),
        ny(1, 12),
        WINDOW,
        False,
        "dnc_list_stale",
    ),  # fmt: skip
    (
        "list 31 days old",
        NEWSLETTER,
        "sms",
        texter(dnc_list_as_of=LIST_DAY - timedelta(days=31)),
        ny(1, 12),
        WINDOW,
        True,
        "subscribed",
    ),  # fmt: skip
    (
        "a fresh list, a send 32 days later",
        NEWSLETTER,
        "sms",
        texter(dnc_list_as_of=LIST_DAY),
        ny(1, 12) + timedelta(days=32),
        WINDOW,
        False,
        "dnc_list_stale",
    ),  # fmt: skip
    (
        "stale list: email unaffected",
        OFFERS,
        "email",
        texter(dnc_list_as_of=LIST_DAY - timedelta(days=90)),
        ny(1, 12),
        WINDOW,
        True,
        "default",
    ),  # fmt: skip
    (
        "stale list: billing unaffected",
        BILLING,
        "sms",
        texter(dnc_list_as_of=LIST_DAY - timedelta(days=90)),
        ny(1, 12),
        WINDOW,
        True,
        "mandatory",
    ),  # fmt: skip
    (
        "stale list, opted in with evidence",
        NEWSLETTER,
        "sms",
        texter(dnc_list_as_of=LIST_DAY - timedelta(days=90), opted_in_with_evidence=frozenset({("newsletter", "sms")})),
        ny(1, 12),
        WINDOW,
        True,
        "subscribed",
    ),  # fmt: skip
    (
        "stale list at 21:00: quiet hours first",
        NEWSLETTER,
        "sms",
        texter(dnc_list_as_of=LIST_DAY - timedelta(days=90)),
        ny(1, 21),
        WINDOW,
        False,
        "quiet_hours",
    ),  # fmt: skip
]


@pytest.mark.parametrize(
    ("case", "topic", "channel", "recipient", "at", "quiet_hours", "allowed", "reason"), CASES_17, ids=[c[0] for c in CASES_17]
)
def test_calls_and_texts_rows(case, topic, channel, recipient, at, quiet_hours, allowed, reason):
    decision = decide(topic, channel, recipient, at=at, quiet_hours=quiet_hours)
    assert (decision.allowed, decision.reason) == (allowed, reason)


def test_the_clocks_above_are_what_their_cases_say():
    """The fixtures' facts, checked, so a case cannot pass for the wrong reason."""
    assert phone_time_zones("+12125550123") == ("America/New_York",)
    assert len(phone_time_zones(AUSTRALIAN_MOBILE)) > 1 and "Indian/Cocos" in phone_time_zones(AUSTRALIAN_MOBILE)
    assert phone_time_zones(SYDNEY_LANDLINE) == ("Australia/Sydney",)
    assert phone_time_zones("+80012345678") == ()
    assert utc(0).astimezone(ZoneInfo("Australia/Sydney")).time() == time(10, 0)
    assert utc(0).astimezone(ZoneInfo("Indian/Cocos")).time() == time(6, 30)
    assert utc(10, 30).astimezone(ZoneInfo("Australia/Lord_Howe")).time() == time(21, 0)
    assert ny(1, 16).astimezone(ZoneInfo("Europe/London")).time() == time(21, 0)


@pytest.mark.parametrize(
    ("text", "quiet", "not_quiet"),
    [
        ("21:00-08:00", [time(21), time(23, 59), time(0), time(7, 59)], [time(8), time(12), time(20, 59)]),
        ("12:00-13:30", [time(12), time(13, 29)], [time(11, 59), time(13, 30), time(0)]),
        (" 22:15 - 06:45 ", [time(22, 15), time(6, 44)], [time(22, 14), time(6, 45)]),
    ],
)
def test_a_quiet_hours_window(text, quiet, not_quiet):
    window = QuietHours.parse(text)
    assert all(window.covers(moment) for moment in quiet)
    assert not any(window.covers(moment) for moment in not_quiet)


@pytest.mark.parametrize("text", ["", "21:00", "21:00-21:00", "9:00-17:00", "24:00-08:00", "21:00-08:60", "21-08", "a-b"])
def test_a_window_that_is_not_one(text):
    with pytest.raises(ValueError):
        QuietHours.parse(text)


def test_every_reason_of_the_spec_is_reachable():
    reasons = {c[6] for c in CASES} | {c[7] for c in CASES_17}
    assert reasons == {
        "topic_archived", "topic_not_on_channel", "suppressed", "unknown_recipient", "deactivated", "erased", "no_address",
        "undeliverable", "sms_stop", "mandatory", "quiet_hours", "dnc_list_stale", "do_not_call", "all_marketing_unsubscribed",
        "channel_unsubscribed", "subscribed", "unsubscribed", "default", "no_consent",
    }  # fmt: skip


def test_calls_and_texts_are_the_channels_held_to_quiet_hours_and_the_list():
    """A registry fact (prefs/channels.py). The suite's test-only chat channel (PREFS_TEST_FIFTH_CHANNEL) reaches
    the phone number but is neither: a chat app's message is not a call or a text under the TCPA."""
    assert TIME_RESTRICTED == DO_NOT_CALL == {"sms", "phone"}


def test_only_a_channel_to_the_phone_number_can_be_on_the_list():
    with pytest.raises(ValueError, match="phone numbers only"):
        register(Channel("fax", "fax", "faxes", EMAIL, mailto_code=99, do_not_call=True))
    assert "fax" not in channels.REGISTRY
