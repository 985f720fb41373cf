"""The links a sender puts in every marketing message, and for email the headers too (RFC 8058 one-click,
RFC 2369 mailto). A text, a call script or a letter gets only the URLs: List-Unsubscribe means nothing there,
and a mailto: reference would only invite someone to paste it into a text."""

from __future__ import annotations

from typing import Any

from ..channels import EMAIL, REGISTRY
from ..decision import TopicRule
from ..deps import Deps
from ..errors import PrefsError
from ..tokens import PREFERENCES, UNSUBSCRIBE, LinkTarget, mailto_reference

ONE_CLICK = "List-Unsubscribe=One-Click"


def check_link_topic(topic: TopicRule | None, channel: str) -> None:
    """Raises PrefsError: mandatory_topic (no link may offer to stop it), invalid (not on this channel)."""
    if topic is None:
        return
    if topic.mandatory:
        raise PrefsError("mandatory_topic", f"The topic {topic.name!r} is mandatory: send it without an unsubscribe link.")
    if channel not in topic.channels:
        raise PrefsError(
            "invalid", f"Topic {topic.key!r} is not sent on {channel}.", {"channel": ["Not a channel of this topic."]}
        )


def links_for(
    deps: Deps,
    recipient_id: str,
    recipient_pk: int,
    channel: str,
    topic: TopicRule | None,
    message_id: str | None,
    minted_by: str | None,
) -> dict[str, Any]:
    """Both URLs, and for a channel that reaches an email address the two headers. Without a topic, the link
    stops all marketing on the channel.

    `minted_by` (the API key's name) travels in the links, so every change made through them says which
    key handed them out."""
    rt = deps
    target = LinkTarget(recipient_id, channel, topic.key if topic else None, message_id, minted_by)
    unsubscribe_url = f"{rt.base_url}/u/{rt.signer.sign(UNSUBSCRIBE, target)}"
    preferences_url = f"{rt.base_url}/p/{rt.signer.sign(PREFERENCES, target)}"
    if REGISTRY[channel].address is not EMAIL:
        return {"unsubscribe_url": unsubscribe_url, "preferences_url": preferences_url}
    list_unsubscribe = f"<{unsubscribe_url}>"
    if rt.unsubscribe_mailto:
        local, domain = rt.unsubscribe_mailto.split("@")
        reference = mailto_reference(rt.secret_keys[0], recipient_pk, topic.id if topic else None, channel)
        list_unsubscribe += f", <mailto:{local.lower()}+{reference}@{domain.lower()}?subject=unsubscribe>"
    return {
        "unsubscribe_url": unsubscribe_url,
        "preferences_url": preferences_url,
        "headers": {"List-Unsubscribe": list_unsubscribe, "List-Unsubscribe-Post": ONE_CLICK},
    }
