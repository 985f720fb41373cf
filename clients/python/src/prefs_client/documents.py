"""The JSON documents the API answers with, as typed dicts: returned as the server sent them (a field added to
the API later is there too), typed for the reader and the type checker. Shapes: /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict


class PostalAddress(TypedDict):
    lines: list[str]
    city: NotRequired[str | None]
    region: NotRequired[str | None]
    postal_code: NotRequired[str | None]
    country: str


class Recipient(TypedDict):
    id: str
    email: str | None
    phone: str | None
    postal_address: PostalAddress | None
    locale: str | None
    time_zone: str | None  # IANA name: the person's local time for quiet hours
    status: str  # active, deactivated, erased
    created_at: str
    updated_at: str


class Cell(TypedDict):
    """What the decision rule says for one topic on one channel."""

    allowed: bool
    reason: str
    choice: NotRequired[bool | None]  # the stored choice; None when the default applies


class MatrixTopic(TypedDict):
    key: str
    name: str
    description: NotRequired[str]
    mandatory: bool
    channels: dict[str, Cell]


class ChannelState(TypedDict):
    address: str | None  # masked
    stopped: bool
    sms_stop: NotRequired[bool]


class Matrix(TypedDict):
    """GET /recipients/{id}/preferences: what the person gets on which channel, and why."""

    recipient_id: str
    status: str
    all_marketing: str  # active, stopped
    channels: dict[str, ChannelState]
    topics: list[MatrixTopic]


class RecipientWithPreferences(Recipient):
    preferences: Matrix


class Event(TypedDict):
    """A consent event, as the change feed shows it (and as a webhook's `data` carries it)."""

    id: int
    at: str
    recipient_id: str
    actor: str
    actor_id: str | None
    via: str
    kind: str
    topic: str | None
    channel: str | None
    before: Any
    after: Any
    reason: str | None
    evidence: dict[str, Any] | None


class Export(TypedDict):
    """Everything held about a person (GDPR Art. 20)."""

    exported_at: str
    recipient: dict[str, Any]
    preferences: Matrix
    choices: list[dict[str, Any]]
    suppressed: dict[str, bool]
    events: list[Event]


class Change(TypedDict):
    """One preference change: topic and channel (one cell), topic only (all its channels), channel only (a
    channel stop or resume) or neither (all marketing)."""

    subscribed: bool
    topic: NotRequired[str | None]
    channel: NotRequired[str | None]


class Topic(TypedDict):
    key: str
    name: str
    description: str
    mandatory: bool
    channels: list[str]
    default_subscribed: dict[str, bool]
    archived: bool


class Webhook(TypedDict):
    id: int
    url: str
    description: str
    events: list[str]
    enabled: bool
    disabled_reason: str | None
    failing_since: str | None
    created_at: str
    updated_at: str


class WebhookWithSecret(Webhook):
    secret: str  # `whsec_` + base64: shown only when the endpoint is created


class DeliveryAttempt(TypedDict):
    message_id: str  # the webhook-id header
    type: str
    event_id: int | None
    at: str
    status_code: int | None
    error: str | None
    duration_ms: int
    delivery_status: str  # pending, delivered, failed
    attempt: int


class ReplayResult(TypedDict):
    queued: int
    last_event_id: int  # pass as `after` again to queue more


class AudienceResult(TypedDict):
    """May the person go into an advertising audience upload? `reason`: no_opt_out allows;
    do_not_sell_or_share, suppressed, unknown_recipient, deactivated, erased refuse."""

    allowed: bool
    reason: str
    recipient_id: str | None


class SyncReceipt(TypedDict):
    """A mail provider's latest push about the person's email address."""

    state: str  # pending, done, failed
    action: str  # suppress, unsuppress
    attempts: int
    last_error: str | None
    at: str | None
    next_attempt_at: NotRequired[str | None]
    reported_here: NotRequired[bool]


class SyncReceipts(TypedDict):
    recipient_id: str
    targets: dict[str, SyncReceipt]  # per target of PREFS_SYNC_TARGETS with something pushed


class Subscription(TypedDict):
    """POST /subscriptions: `subscribed` topics were stored at once (single opt-in); `pending` ones wait for the
    person to confirm the link mailed to them (double opt-in) until `expires_at`."""

    recipient_id: str
    created: bool  # the address was new: a recipient (id `sub-…`) was made for it
    channel: str
    subscribed: list[str]
    pending: list[str]
    expires_at: str | None


class StatsMeasures(TypedDict):
    opt_outs: int  # marketing permission withdrawn: a topic or channel off, a stop of all marketing, STOP, a complaint
    opt_ins: int  # permission given (a confirmed double opt-in counts once)
    suppressions: int  # addresses added to the suppression list
    bounces: int  # hard bounces mail providers reported
    complaints: int  # spam complaints mail providers reported


class StatsRow(StatsMeasures):
    key: dict[str, str | None]  # per group asked for, e.g. {"message_id": "campaign-7"}; None: none recorded


# "from" is a Python keyword, hence the functional form.
Stats = TypedDict(
    "Stats",
    {
        "from": str,
        "to": str,
        "group_by": list[str],
        "rows": list[StatsRow],
        "truncated": bool,  # more rows matched than `limit`; `totals` counts them all
        "totals": StatsMeasures,
        "active_recipients": dict[str, int],  # per channel: who marketing can reach on it now
    },
)
