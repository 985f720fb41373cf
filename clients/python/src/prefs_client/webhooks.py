"""Checking that a webhook really comes from prefs (Standard Webhooks v1), for receivers."""

from __future__ import annotations

import binascii
from collections.abc import Iterable, Mapping
from typing import Any

from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook
from standardwebhooks.webhooks import WebhookVerificationError as SignatureRefused

NO_MATCH = "No matching signature found"  # standardwebhooks' words when only the signature is wrong


class WebhookVerificationError(ValueError):
    """The message is not signed by any of the given secrets, is more than 5 minutes old or ahead, or lacks
    the webhook-id, webhook-timestamp or webhook-signature header. Answer such a request 400."""


def verify_webhook(secret: str | Iterable[str], body: bytes | str, headers: Mapping[str, str]) -> dict[str, Any]:
    """The message (`{"type", "timestamp", "data"}`) once its signature checks out with `secret` (the
    endpoint's `whsec_…`; give several while a rotation is under way). `body` is the raw request body, byte
    for byte, before any JSON parsing. Raises WebhookVerificationError; ValueError for a secret that is not one.

    Deliveries are at least once: deduplicate on the `webhook-id` header."""
    verifiers = [_verifier(one) for one in ([secret] if isinstance(secret, str) else secret)]
    if not verifiers:
        raise ValueError("Give at least one webhook secret.")
    plain_headers = {str(name): str(value) for name, value in headers.items()}
    refusal = NO_MATCH
    for verifier in verifiers:
        try:
            message = verifier.verify(body, plain_headers)
        except SignatureRefused as error:
            refusal = str(error)
            if refusal != NO_MATCH:  # a missing header or a stale time: no other secret changes that
                break
        except ValueError as error:  # a malformed signature header, or a body that is not UTF-8 JSON
            raise WebhookVerificationError(f"Unreadable webhook: {error}") from error
        else:
            if not isinstance(message, dict):
                raise WebhookVerificationError("The message is not a JSON object.")
            return message
    raise WebhookVerificationError(refusal)


def _verifier(secret: str) -> Webhook:
    try:
        return Webhook(secret)
    except (binascii.Error, EmptyWebhookSecretError, RuntimeError) as error:
        raise ValueError("Not a webhook secret: expected the whsec_… value prefs gave when the endpoint was made.") from error
