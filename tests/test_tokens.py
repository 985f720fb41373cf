"""Signed links and mailto references, unit-tested directly: they are pure functions."""

from __future__ import annotations

import time

import pytest
from itsdangerous.timed import TimestampSigner

from prefs.tokens import (
    PREFERENCES,
    UNSUBSCRIBE,
    LinkSigner,
    LinkTarget,
    TokenExpired,
    TokenInvalid,
    mailto_reference,
    read_mailto_reference,
)

TARGET = LinkTarget("cust-1", "email", "newsletter", "msg-1")
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def test_round_trip_per_purpose():
    signer = LinkSigner(["k1"], 60)
    assert signer.verify(UNSUBSCRIBE, signer.sign(UNSUBSCRIBE, TARGET)) == TARGET
    assert signer.verify(PREFERENCES, signer.sign(PREFERENCES, LinkTarget("cust-1", "sms"))) == LinkTarget("cust-1", "sms")
    with pytest.raises(TokenInvalid):
        signer.verify(PREFERENCES, signer.sign(UNSUBSCRIBE, TARGET))
    with pytest.raises(TokenInvalid):
        signer.verify(UNSUBSCRIBE, signer.sign(PREFERENCES, TARGET))


def test_rotation_first_key_signs_every_key_verifies():
    old = LinkSigner(["old"], 60).sign(UNSUBSCRIBE, TARGET)
    rotated = LinkSigner(["new", "old"], 60)
    assert rotated.verify(UNSUBSCRIBE, old) == TARGET
    fresh = rotated.sign(UNSUBSCRIBE, TARGET)
    assert LinkSigner(["new"], 60).verify(UNSUBSCRIBE, fresh) == TARGET
    with pytest.raises(TokenInvalid):
        LinkSigner(["old"], 60).verify(UNSUBSCRIBE, fresh)
    with pytest.raises(TokenInvalid):
        LinkSigner(["other"], 60).verify(UNSUBSCRIBE, old)


def test_every_single_character_change_is_refused():
    signer = LinkSigner(["k1"], 60)
    token = signer.sign(UNSUBSCRIBE, TARGET)
    for position in range(len(token)):
        for replacement in {
            B64[(B64.index(token[position]) + shift) % 64] if token[position] in B64 else "A" for shift in (1, 2, 16, 32)
        }:
            variant = token[:position] + replacement + token[position + 1 :]
            if variant == token:
                continue
            with pytest.raises(TokenInvalid):
                signer.verify(UNSUBSCRIBE, variant)


def test_truncated_padded_and_re_encoded_tokens_are_refused():
    signer = LinkSigner(["k1"], 60)
    token = signer.sign(UNSUBSCRIBE, TARGET)
    for variant in (
        token[:-1],
        token[:10],
        token + "=",
        token + "A",
        token.replace(".", "..", 1),
        "",
        ".",
        "a.b.c",
        token.upper(),
    ):
        with pytest.raises(TokenInvalid):
            signer.verify(UNSUBSCRIBE, variant)


def test_expired_after_the_lifetime():
    signer = LinkSigner(["k1"], 60)
    real = TimestampSigner.get_timestamp
    try:
        TimestampSigner.get_timestamp = lambda self: int(time.time()) - 61 * 86400
        old = signer.sign(UNSUBSCRIBE, TARGET)
        TimestampSigner.get_timestamp = lambda self: int(time.time()) - 59 * 86400
        recent = signer.sign(UNSUBSCRIBE, TARGET)
    finally:
        TimestampSigner.get_timestamp = real
    with pytest.raises(TokenExpired):
        signer.verify(UNSUBSCRIBE, old)
    assert signer.verify(UNSUBSCRIBE, recent) == TARGET


def test_mailto_reference_is_short_lower_case_and_tamper_proof():
    now = time.time()
    reference = mailto_reference("k1", 123456, 7, "email", now)
    assert reference == reference.lower() and reference.isalnum()
    assert len("unsubscribe+" + reference) <= 64
    target = read_mailto_reference(["k2", "k1"], reference, 365, now)
    assert (target.recipient_pk, target.topic_id, target.channel) == (123456, 7, "email")
    assert read_mailto_reference(["k1"], mailto_reference("k1", 5, None, "sms", now), 365, now).topic_id is None
    for variant in (reference[:-1], reference[:-1] + ("a" if reference[-1] != "a" else "b"), reference + "a", "", "zz"):
        with pytest.raises(TokenInvalid):
            read_mailto_reference(["k1"], variant, 365, now)
    with pytest.raises(TokenInvalid):
        read_mailto_reference(["other"], reference, 365, now)
    with pytest.raises(TokenExpired):
        read_mailto_reference(["k1"], reference, 60, now + 61 * 86400)


def test_a_token_from_a_server_whose_clock_runs_ahead_is_accepted_within_the_skew():
    """Found by the black-box review: a token dated a few seconds ahead answered 410."""
    signer = LinkSigner(["k1"], 60)
    real = TimestampSigner.get_timestamp
    try:
        TimestampSigner.get_timestamp = lambda self: int(time.time()) + 60
        slightly_ahead = signer.sign(UNSUBSCRIBE, TARGET)
        TimestampSigner.get_timestamp = lambda self: int(time.time()) + 3600
        far_ahead = signer.sign(UNSUBSCRIBE, TARGET)
    finally:
        TimestampSigner.get_timestamp = real
    assert signer.verify(UNSUBSCRIBE, slightly_ahead) == TARGET
    with pytest.raises(TokenExpired):
        signer.verify(UNSUBSCRIBE, far_ahead)
