"""Answers the client reads for you: a check's result, a message's links, pages of events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .documents import Event


@dataclass(frozen=True, slots=True)
class Links:
    """The unsubscribe and preference URLs of one message and its List-Unsubscribe headers (paste them as
    they are: `List-Unsubscribe` and `List-Unsubscribe-Post`)."""

    unsubscribe_url: str
    preferences_url: str
    headers: dict[str, str]

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Links:
        return cls(body["unsubscribe_url"], body["preferences_url"], dict(body["headers"]))


@dataclass(frozen=True, slots=True)
class ItemError:
    """Why a batch item was answered `invalid` (the code a single check would have raised)."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class CheckResult:
    """May this message be sent? Send only when `allowed`; `reason` says why (SPEC §3), or is "invalid" for a
    malformed batch item, whose `error` says what was wrong."""

    allowed: bool
    reason: str
    recipient_id: str | None = None  # the person's id; an unknown id is echoed, an address never is
    topic: str | None = None
    channel: str | None = None
    error: ItemError | None = None
    links: Links | None = None  # batch with include_links: on allowed, non-mandatory email results

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> CheckResult:
        error = body.get("error")
        return cls(
            allowed=body["allowed"],
            reason=body["reason"],
            recipient_id=body.get("recipient_id"),
            topic=body.get("topic"),
            channel=body.get("channel"),
            error=ItemError(error["code"], error["message"]) if error else None,
            links=Links.from_json(body) if "unsubscribe_url" in body else None,
        )

    @classmethod
    def invalid(cls, code: str, message: str) -> CheckResult:
        return cls(allowed=False, reason="invalid", error=ItemError(code, message))


@dataclass(frozen=True, slots=True)
class FeedPage:
    """A page of the change feed, oldest first. Pass `next` as `after` for the following page; None means
    this page was empty: you are caught up."""

    events: list[Event]
    next: int | None


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """A page of one person's consent events, newest first; `next` is the cursor of the older ones (None at
    the end)."""

    events: list[Event]
    next: str | None
