"""SPEC §3, row by row: the decision rule is a pure function, so it is tested directly."""

from __future__ import annotations

import pytest

from prefs.decision import ANY, RecipientState, TopicRule, decide

ALL = frozenset({"email", "sms", "phone", "post"})

NEWSLETTER = TopicRule("newsletter", "Newsletter", False, frozenset({"email", "sms"}), frozenset({"email"}))
BILLING = TopicRule("billing", "Billing", True, ALL, ALL)
ARCHIVED = TopicRule("old", "Old", False, frozenset({"email"}), frozenset({"email"}), archived=True)
ARCHIVED_MANDATORY_OFF_CHANNEL = TopicRule("odd", "Odd", True, frozenset({"email"}), frozenset(), archived=True)


def person(**overrides) -> RecipientState:
    values = dict(
        id="p1", status="active", channels_with_address=ALL, sms_stopped=False, suppressed_channels=frozenset(), choices={}
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
    decision = decide(topic, channel, recipient, address_suppressed)
    assert (decision.allowed, decision.reason) == (allowed, reason)


def test_every_reason_of_the_spec_is_reachable():
    reasons = {c[6] for c in CASES}
    assert reasons == {
        "topic_archived", "topic_not_on_channel", "suppressed", "unknown_recipient", "deactivated", "erased", "no_address",
        "sms_stop", "mandatory", "all_marketing_unsubscribed", "channel_unsubscribed", "subscribed", "unsubscribed",
        "default", "no_consent",
    }  # fmt: skip
