"""PrefsClient: the prefs JSON API (/api/v1) for mailers, sync jobs and admin scripts."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from types import TracebackType
from typing import Any, Self, cast
from urllib.parse import quote

import httpx

from .batch import MAX_BATCH, batch_body, chunked, encode_json
from .documents import (
    AudienceResult,
    Change,
    DeliveryAttempt,
    Event,
    Export,
    Matrix,
    PostalAddress,
    Recipient,
    RecipientWithPreferences,
    ReplayResult,
    Stats,
    Subscription,
    SyncReceipts,
    Topic,
    Webhook,
    WebhookWithSecret,
)
from .errors import ServerError, TooLarge
from .results import CheckResult, FeedPage, HistoryPage, Links
from .retries import RetryPolicy
from .session import ApiSession


class Unset(enum.Enum):
    """Marks an argument left out, where None means "clear this field"."""

    UNSET = "UNSET"


UNSET = Unset.UNSET


def _segment(value: str | int) -> str:
    """One path segment, escaped; "." and ".." too, which an HTTP client would otherwise resolve away."""
    text = str(value)
    return "%2E" * len(text) if text.strip(".") == "" and text else quote(text, safe="")


def _moment(at: datetime | str | None) -> str | None:
    """A check's `at` as the API reads it: ISO 8601 text. A datetime without a time zone names no moment."""
    if isinstance(at, datetime):
        if at.tzinfo is None:
            raise ValueError("at: a datetime with a time zone (e.g. datetime.now(UTC)).")
        return at.isoformat()
    return at


def _given(**fields: Any) -> dict[str, Any]:
    """The fields that were given: None (or UNSET for fields where None clears) means "not sent"."""
    return {name: value for name, value in fields.items() if value is not None and value is not UNSET}


class PrefsClient:
    """A client of one prefs service with one API key. Use it as a context manager, or call close().

    `base_url` is the service's URL (https://prefs.example.com). Calls that are safe to repeat (reads, PUT,
    DELETE, checks, links) are retried `retries` times on 429, 503 and connection failures, waiting as
    Retry-After says (at most `max_retry_after` seconds, else the error is raised at once) or with jittered
    exponential backoff from `backoff` seconds; a POST or PATCH that changes state is never retried.
    Errors raise PrefsError subclasses (prefs_client.errors). `transport` replaces httpx's (e.g. a
    MockTransport in your tests).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float | httpx.Timeout = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
        max_retry_after: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if retries < 0 or backoff < 0 or max_retry_after < 0:
            raise ValueError("retries, backoff and max_retry_after must be 0 or more.")
        api_key = api_key.strip()  # a key read from a file or a mounted secret ends in a newline
        if not api_key or not api_key.isprintable() or not api_key.isascii():
            raise ValueError("api_key must be the key as printed, one line of ASCII.")  # never the key itself
        policy = RetryPolicy(retries=retries, backoff=backoff, max_retry_after=max_retry_after)
        self._session = ApiSession(base_url, api_key, timeout, policy, transport)

    def __repr__(self) -> str:
        return f"PrefsClient({str(self._session.http.base_url)!r})"  # never the key

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.close()

    # --- plumbing --------------------------------------------------------------------------------------------
    def _json(
        self, method: str, path: str, *, idempotent: bool, json: Any = None, params: Mapping[str, str | int] | None = None
    ) -> Any:
        return self._session.call(method, path, idempotent=idempotent, json=json, params=params).json()

    def _get(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        return self._json("GET", path, idempotent=True, params=params)

    # --- asking before a send (scope check) ------------------------------------------------------------------
    def check(
        self,
        topic: str,
        channel: str,
        *,
        recipient_id: str | None = None,
        email: str | None = None,
        phone: str | None = None,
        at: datetime | str | None = None,
    ) -> CheckResult:
        """May `topic` go to this person on `channel`? Name the person by exactly one of recipient_id, email
        or phone. `at` (a datetime with its offset, or ISO 8601 text) asks about a scheduled send: texts and
        calls are judged by the person's local time then (quiet hours); default now. Raises Invalid (422
        invalid) for a malformed check, UnknownTopic for a topic not in the catalogue."""
        body = {**_given(recipient_id=recipient_id, email=email, phone=phone, at=_moment(at)), "topic": topic, "channel": channel}
        return CheckResult.from_json(self._json("POST", "/check", idempotent=True, json=body))

    def check_audience(
        self, *, recipient_id: str | None = None, email: str | None = None, phone: str | None = None
    ) -> AudienceResult:
        """May this person go into an advertising audience upload (SPEC §16)? False when they opted out of the
        sale or sharing of their data (Global Privacy Control), are suppressed, unknown, deactivated or erased."""
        body = _given(recipient_id=recipient_id, email=email, phone=phone)
        return cast(AudienceResult, self._json("POST", "/check/audience", idempotent=True, json=body))

    def check_batch(
        self,
        items: Iterable[Mapping[str, Any]],
        *,
        topic: str | None = None,
        channel: str | None = None,
        at: datetime | str | None = None,
        include_links: bool = False,
        chunk_size: int = MAX_BATCH,
    ) -> list[CheckResult]:
        """One result per item, in the items' order, for any number of items: they go in requests of
        `chunk_size` (at most 10,000, the server's limit), and a request the server finds too large is split
        in two. An item is `{recipient_id | email | phone, topic?, channel?, message_id?}`; `topic` and
        `channel` here fill items that lack them. A malformed item (an unknown topic included) is answered
        `reason="invalid"` with its `error`, as the server answers it; the others are still answered. `at` (as
        for check) fills items without their own. With `include_links`, allowed non-mandatory email results
        carry `links`."""
        if not 1 <= chunk_size <= MAX_BATCH:
            raise ValueError(f"chunk_size must be 1 to {MAX_BATCH}.")
        options: dict[str, Any] = _given(topic=topic, channel=channel, at=_moment(at))
        if include_links:
            options["include_links"] = True
        results: list[CheckResult] = []
        for chunk in chunked(items, chunk_size):
            results.extend(self._check_chunk(chunk, options))
        return results

    def _check_chunk(self, chunk: list[Any], options: Mapping[str, Any]) -> list[CheckResult]:
        answers: list[CheckResult | None] = [None] * len(chunk)
        positions, encoded = [], []
        for position, item in enumerate(chunk):
            try:
                if isinstance(item, Mapping) and isinstance(item.get("at"), datetime):
                    item = {**item, "at": _moment(item["at"])}
                encoded.append(encode_json(item))
                positions.append(position)
            except (TypeError, ValueError) as error:  # JSON cannot carry it: as malformed as an item can be
                answers[position] = CheckResult.invalid("invalid", f"Not JSON: {error}")
        if encoded:
            for position, result in zip(positions, self._send_batch(encoded, options), strict=True):
                answers[position] = result
        return [answer for answer in answers if answer is not None]

    def _send_batch(self, encoded: list[bytes], options: Mapping[str, Any]) -> list[CheckResult]:
        try:
            response = self._session.call("POST", "/check/batch", idempotent=True, content=batch_body(encoded, options))
        except TooLarge:
            if len(encoded) == 1:
                raise
            half = len(encoded) // 2  # over the body limit (PREFS_MAX_BODY_BYTES) though within 10,000 items
            return self._send_batch(encoded[:half], options) + self._send_batch(encoded[half:], options)
        results = response.json()["results"]
        if len(results) != len(encoded):
            raise ServerError(
                "bad_answer", f"{len(encoded)} checks were answered with {len(results)} results.", status=response.status_code
            )
        return [CheckResult.from_json(result) for result in results]

    def links(self, recipient_id: str, channel: str = "email", topic: str | None = None, message_id: str | None = None) -> Links:
        """The unsubscribe and preference URLs and List-Unsubscribe headers for one message. Without `topic`
        the link stops all marketing on the channel. Raises MandatoryTopic for a mandatory topic (its
        messages carry no unsubscribe link), NotFound for an unknown recipient."""
        body = {"recipient_id": recipient_id, "channel": channel, **_given(topic=topic, message_id=message_id)}
        return Links.from_json(self._json("POST", "/links", idempotent=True, json=body))

    def topics(self) -> list[Topic]:
        """The catalogue."""
        return cast(list[Topic], self._get("/topics")["topics"])

    # --- recipients (scope read, changes: write) -------------------------------------------------------------
    def put_recipient(
        self,
        recipient_id: str,
        *,
        email: str | None | Unset = UNSET,
        phone: str | None | Unset = UNSET,
        postal_address: PostalAddress | None | Unset = UNSET,
        locale: str | None | Unset = UNSET,
        time_zone: str | None | Unset = UNSET,
    ) -> Recipient:
        """Create the recipient or merge the fields given; None clears a field, a field left out stays.
        `time_zone` is an IANA name (America/Chicago): the person's local time for quiet hours.
        Raises AddressInUse when the email or phone belongs to someone else, Erased for an erased id."""
        fields = {"email": email, "phone": phone, "postal_address": postal_address, "locale": locale, "time_zone": time_zone}
        body = {name: value for name, value in fields.items() if value is not UNSET}
        return cast(Recipient, self._json("PUT", f"/recipients/{_segment(recipient_id)}", idempotent=True, json=body))

    def get_recipient(self, recipient_id: str) -> RecipientWithPreferences:
        """The recipient with the preference matrix. Raises NotFound (erased ones too)."""
        return cast(RecipientWithPreferences, self._get(f"/recipients/{_segment(recipient_id)}"))

    def find_recipients(self, *, email: str | None = None, phone: str | None = None) -> list[Recipient]:
        """The recipients holding this email or phone (give one of the two), however it is spelled."""
        found = self._get("/recipients", params=_given(email=email, phone=phone))
        return cast(list[Recipient], found["recipients"])

    def deactivate(self, recipient_id: str, reason: str | None = None) -> Recipient:
        """End the account: nothing is sent any more, mandatory topics included."""
        return self._status_change(recipient_id, "deactivate", reason)

    def reactivate(self, recipient_id: str, reason: str | None = None) -> Recipient:
        return self._status_change(recipient_id, "reactivate", reason)

    def _status_change(self, recipient_id: str, action: str, reason: str | None) -> Recipient:
        path = f"/recipients/{_segment(recipient_id)}/{action}"
        return cast(Recipient, self._json("POST", path, idempotent=False, json=_given(reason=reason)))

    def erase(self, recipient_id: str, reason: str | None = None) -> None:
        """Erase the person (GDPR Art. 17); erasing an erased id again is not an error. The id stays a
        tombstone: get_recipient raises NotFound, put_recipient Erased."""
        self._session.call("DELETE", f"/recipients/{_segment(recipient_id)}", idempotent=True, json=_given(reason=reason) or None)

    def export(self, recipient_id: str) -> Export:
        """Everything held about the person (GDPR Art. 20)."""
        return cast(Export, self._get(f"/recipients/{_segment(recipient_id)}/export"))

    def clear_undeliverable(self, recipient_id: str, reason: str | None = None) -> Matrix:
        """The person's email address works again (a mail provider had reported it dead): email may go to it
        again. Returns the preference matrix; clearing an address that was not marked changes nothing."""
        path = f"/recipients/{_segment(recipient_id)}/undeliverable/clear"
        return cast(Matrix, self._json("POST", path, idempotent=True, json=_given(reason=reason)))

    def sync_receipts(self, recipient_id: str) -> SyncReceipts:
        """Each mail provider's receipt for the person's email address (pushed to or taken off its list)."""
        return cast(SyncReceipts, self._get(f"/recipients/{_segment(recipient_id)}/sync"))

    def preferences(self, recipient_id: str) -> Matrix:
        """What the person gets on which channel, and why."""
        return cast(Matrix, self._get(f"/recipients/{_segment(recipient_id)}/preferences"))

    def change_preferences(
        self,
        recipient_id: str,
        changes: Sequence[Change],
        evidence: Mapping[str, Any] | None = None,
        reason: str | None = None,
    ) -> Matrix:
        """Apply `changes` all or nothing and return the new matrix. An opt-in lifts a suppression of the
        person's address only with `evidence` naming at least `collected_at` and `source`. Raises
        MandatoryTopic, SmsStop, UnknownTopic, Invalid."""
        body = {"changes": list(changes), **_given(evidence=dict(evidence) if evidence is not None else None, reason=reason)}
        return cast(Matrix, self._json("PATCH", f"/recipients/{_segment(recipient_id)}/preferences", idempotent=False, json=body))

    def subscribe(
        self,
        topics: Sequence[str],
        evidence: Mapping[str, Any],
        *,
        channel: str = "email",
        recipient_id: str | None = None,
        email: str | None = None,
        phone: str | None = None,
        locale: str | None = None,
    ) -> Subscription:
        """A person asked for `topics` (your signup form, a checkbox): name them by one of `recipient_id`, `email`
        or `phone` (an address nobody holds makes a recipient). `evidence` says how: `source` at least, and
        `collected_at`, `notice`, `url`, `ip`, `user_agent` when you have them. Single opt-in topics are stored
        at once; double opt-in ones by email are mailed a confirmation link and come back in `pending`. Not
        retried: every call mails a new link. Raises UnknownTopic, SmsStop, NotFound, Invalid (its code is
        `mail_off` when a double opt-in topic is asked for and the server has no outbound email)."""
        who = _given(recipient_id=recipient_id, email=email, phone=phone, locale=locale)
        body = {**who, "topics": list(topics), "channel": channel, "evidence": dict(evidence)}
        return cast(Subscription, self._json("POST", "/subscriptions", idempotent=False, json=body))

    def history(self, recipient_id: str, cursor: str | None = None, limit: int = 100) -> HistoryPage:
        """One page of the person's consent events, newest first; pass `next` as `cursor` for older ones."""
        page = self._get(f"/recipients/{_segment(recipient_id)}/events", params={"limit": limit, **_given(cursor=cursor)})
        return HistoryPage(page["events"], page["next"])

    def iter_history(self, recipient_id: str, limit: int = 100) -> Iterator[Event]:
        """Every consent event of the person, newest first, page after page."""
        cursor = None
        while True:
            page = self.history(recipient_id, cursor, limit)
            yield from page.events
            if page.next is None:
                return
            cursor = page.next

    # --- the change feed (scope read) ------------------------------------------------------------------------
    def events(self, after: int = 0, limit: int = 1000) -> FeedPage:
        """Consent events with an id above `after`, oldest first, in commit order (1 to 1000 per page)."""
        page = self._get("/events", params={"after": after, "limit": limit})
        return FeedPage(page["events"], page["next"])

    def iter_events(self, after: int = 0, limit: int = 1000) -> Iterator[Event]:
        """Every event after `after`, following `next` until an empty page (caught up). Keep the last
        event's `id` and start there next time: the feed never skips an event."""
        while True:
            page = self.events(after, limit)
            if page.next is None:
                return
            yield from page.events
            after = page.next

    # --- insights (scope read) -------------------------------------------------------------------------------
    def stats(
        self,
        group_by: str | Sequence[str] = "day",
        *,
        start: date | str | None = None,
        end: date | str | None = None,
        order_by: str | None = None,
        limit: int | None = None,
    ) -> Stats:
        """Opt-outs, opt-ins, suppressions, bounces and complaints from `start` to `end` (UTC days, both
        included; by default the last 30), counted by one or more of day, topic, channel, via and message_id,
        e.g. stats("message_id", order_by="opt_outs", limit=10) for the top ten campaigns by unsubscribes.
        `truncated` says whether rows were left off by `limit`. Raises Invalid for a bad range or grouping
        (`code` invalid_range or invalid_group_by)."""
        groups = group_by if isinstance(group_by, str) else ",".join(group_by)
        days = {name: day.isoformat() if isinstance(day, date) else day for name, day in (("from", start), ("to", end))}
        params = {"group_by": groups, **_given(**days, order_by=order_by, limit=limit)}
        return cast(Stats, self._get("/stats", params=params))

    # --- topics (scope admin) --------------------------------------------------------------------------------
    def get_topic(self, key: str) -> Topic:
        return cast(Topic, self._get(f"/topics/{_segment(key)}"))

    def create_topic(
        self,
        key: str,
        name: str,
        channels: Sequence[str],
        *,
        description: str | None = None,
        mandatory: bool = False,
        default_subscribed: Mapping[str, bool] | None = None,
    ) -> Topic:
        """A new topic; `mandatory` is fixed for good. Raises AlreadyExists when the key is taken."""
        body = {"key": key, "name": name, "channels": list(channels), "mandatory": mandatory}
        body |= _given(description=description, default_subscribed=dict(default_subscribed or {}) or None)
        return cast(Topic, self._json("POST", "/topics", idempotent=False, json=body))

    def update_topic(
        self,
        key: str,
        *,
        name: str | None = None,
        description: str | None | Unset = UNSET,
        channels: Sequence[str] | None = None,
        default_subscribed: Mapping[str, bool] | None = None,
        archived: bool | None = None,
    ) -> Topic:
        """Change the fields given. Raises MandatoryTopic when a mandatory topic would be archived or lose a channel."""
        body: dict[str, Any] = _given(name=name, archived=archived)
        if description is not UNSET:
            body["description"] = description
        if channels is not None:
            body["channels"] = list(channels)
        if default_subscribed is not None:
            body["default_subscribed"] = dict(default_subscribed)
        return cast(Topic, self._json("PATCH", f"/topics/{_segment(key)}", idempotent=False, json=body))

    def archive_topic(self, key: str) -> Topic:
        """Archive the topic: every check of it answers `topic_archived`."""
        return cast(Topic, self._json("DELETE", f"/topics/{_segment(key)}", idempotent=True))

    # --- webhook endpoints (scope admin) ---------------------------------------------------------------------
    def create_webhook(self, url: str, events: Sequence[str] = ("*",), description: str | None = None) -> WebhookWithSecret:
        """A new endpoint; its `secret` is in this answer only: keep it to verify deliveries (verify_webhook)."""
        body = {"url": url, "events": list(events), **_given(description=description)}
        return cast(WebhookWithSecret, self._json("POST", "/webhooks", idempotent=False, json=body))

    def list_webhooks(self) -> list[Webhook]:
        return cast(list[Webhook], self._get("/webhooks")["webhooks"])

    def get_webhook(self, endpoint_id: int) -> Webhook:
        return cast(Webhook, self._get(f"/webhooks/{_segment(endpoint_id)}"))

    def update_webhook(
        self,
        endpoint_id: int,
        *,
        url: str | None = None,
        events: Sequence[str] | None = None,
        description: str | None = None,
        enabled: bool | None = None,
    ) -> Webhook:
        """Change the fields given; `enabled=True` re-enables a disabled endpoint (then replay what it missed)."""
        body = _given(url=url, events=list(events) if events is not None else None, description=description, enabled=enabled)
        return cast(Webhook, self._json("PATCH", f"/webhooks/{_segment(endpoint_id)}", idempotent=False, json=body))

    def delete_webhook(self, endpoint_id: int) -> None:
        """Delete an endpoint. Retried like every DELETE: a 404 to a retry means the first try did it (its
        answer was lost), so it is success; a 404 to the first try is raised."""
        self._session.call("DELETE", f"/webhooks/{_segment(endpoint_id)}", idempotent=True, gone_on_retry_is_done=True)

    def rotate_webhook_secret(self, endpoint_id: int) -> str:
        """A new secret; the old one keeps signing beside it for 24 hours."""
        return cast(str, self._json("POST", f"/webhooks/{_segment(endpoint_id)}/rotate", idempotent=False)["secret"])

    def webhook_deliveries(self, endpoint_id: int) -> list[DeliveryAttempt]:
        """The latest attempts, newest first."""
        return cast(list[DeliveryAttempt], self._get(f"/webhooks/{_segment(endpoint_id)}/deliveries")["deliveries"])

    def replay_webhook(self, endpoint_id: int, after: int) -> ReplayResult:
        """Queue again every event with an id above `after` that the endpoint wants, with its first webhook-id."""
        path = f"/webhooks/{_segment(endpoint_id)}/replay"
        return cast(ReplayResult, self._json("POST", path, idempotent=False, json={"after": after}))
