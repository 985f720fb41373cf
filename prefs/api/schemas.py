"""marshmallow schemas of the JSON API: what is accepted, what is answered, and the OpenAPI document."""
from __future__ import annotations

from datetime import UTC, datetime

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from ..config import CHANNELS
from ..services.checks import MAX_BATCH

MAX_ID = 2**63 - 1  # the largest id a database integer holds
REASONS = (
    "topic_archived", "topic_not_on_channel", "suppressed", "unknown_recipient", "deactivated", "erased",
    "no_address", "sms_stop", "mandatory", "all_marketing_unsubscribed", "channel_unsubscribed",
    "subscribed", "unsubscribed", "default", "no_consent",
)  # fmt: skip
RECIPIENT_ID = validate.Regexp(r"^[A-Za-z0-9._:-]{1,128}$", error="1-128 letters, digits, '.', '_', ':' or '-'.")
TOPIC_KEY = validate.Regexp(r"^[a-z0-9][a-z0-9_-]{0,63}$", error="Lower-case letters, digits, '_' and '-'.")
Channel = lambda **kw: fields.String(validate=validate.OneOf(CHANNELS), **kw)  # noqa: E731
class StrictBoolean(fields.Boolean):
    """JSON true or false only: 1, "yes" or "true" are refused (1 == True in Python, so truthy sets let it in)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


def UnsubscribeHeaders(**kwargs) -> fields.Dict:  # noqa: N802  (a field factory, used like a class)
    return fields.Dict(
        keys=fields.String(validate=validate.OneOf(("List-Unsubscribe", "List-Unsubscribe-Post"))),
        values=fields.String(),
        metadata={"description": "List-Unsubscribe (<https://…/u/…>, plus <mailto:…> when configured) and List-Unsubscribe-Post: List-Unsubscribe=One-Click."},
        **kwargs,
    )


class UTCDateTime(fields.DateTime):
    """SQLite hands back naive datetimes; every stored time is UTC, so say so."""

    def _serialize(self, value: datetime | str | None, attr, obj, **kwargs):
        if isinstance(value, str):  # already ISO 8601 (an export assembled by the service)
            return value
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return super()._serialize(value, attr, obj, **kwargs)


def _is_iso_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError("An ISO 8601 date or date-time, e.g. 2026-11-01T10:00:00Z.") from None
    return True


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


# --- errors ---------------------------------------------------------------------------------------------
class ErrorBodySchema(Schema):
    code = fields.String(required=True, metadata={"description": "Stable error code, e.g. invalid, unknown_topic."})
    message = fields.String(required=True)
    details = fields.Dict(required=True, metadata={"description": "Field errors, keyed by field name."})


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBodySchema, required=True)


# --- checks ---------------------------------------------------------------------------------------------
class CheckItemSchema(StrictSchema):
    """Exactly one of recipient_id, email, phone."""

    recipient_id = fields.String(validate=RECIPIENT_ID)
    email = fields.String(validate=validate.Length(max=320))
    phone = fields.String(validate=validate.Length(max=64))
    topic = fields.String(required=True)
    channel = Channel(required=True)


class BatchItemSchema(CheckItemSchema):
    topic = fields.String(metadata={"description": "Defaults to the request's topic."})
    channel = Channel(metadata={"description": "Defaults to the request's channel."})
    message_id = fields.String(validate=validate.Length(min=1, max=255))


class BatchRequestSchema(StrictSchema):
    checks = fields.List(fields.Nested(BatchItemSchema), required=True, validate=validate.Length(min=1, max=MAX_BATCH))
    topic = fields.String()
    channel = Channel()
    include_links = StrictBoolean(load_default=False)


class CheckResultSchema(Schema):
    allowed = fields.Boolean(required=True)
    reason = fields.String(required=True, validate=validate.OneOf(REASONS))
    recipient_id = fields.String(required=True, allow_none=True)
    topic = fields.String(required=True)
    channel = fields.String(required=True)


class ItemErrorSchema(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)


class BatchResultSchema(Schema):
    allowed = fields.Boolean(required=True)
    reason = fields.String(required=True, validate=validate.OneOf(REASONS + ("invalid",)))
    recipient_id = fields.String(allow_none=True)
    topic = fields.String()
    channel = fields.String()
    error = fields.Nested(ItemErrorSchema, metadata={"description": "Only on a malformed item (reason invalid)."})
    unsubscribe_url = fields.String(metadata={"description": "With include_links, on allowed non-mandatory email results."})
    preferences_url = fields.String()
    headers = UnsubscribeHeaders()


class BatchResponseSchema(Schema):
    results = fields.List(fields.Nested(BatchResultSchema), required=True)


# --- links ---------------------------------------------------------------------------------------------
class LinksRequestSchema(StrictSchema):
    recipient_id = fields.String(required=True, validate=RECIPIENT_ID)
    channel = Channel(load_default="email")
    topic = fields.String(allow_none=True, metadata={"description": "Without a topic the link stops all marketing on the channel."})
    message_id = fields.String(allow_none=True, validate=validate.Length(min=1, max=255))


class LinksSchema(Schema):
    unsubscribe_url = fields.String(required=True)
    preferences_url = fields.String(required=True)
    headers = UnsubscribeHeaders(required=True)


# --- recipients -----------------------------------------------------------------------------------------
class PostalAddressSchema(StrictSchema):
    lines = fields.List(fields.String(), required=True, validate=validate.Length(min=1, max=5))
    city = fields.String(allow_none=True)
    region = fields.String(allow_none=True)
    postal_code = fields.String(allow_none=True)
    country = fields.String(required=True, metadata={"description": "ISO 3166-1 alpha-2"})


class RecipientInSchema(StrictSchema):
    """Fields given are merged in; null clears one; fields left out stay as they are."""

    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True, metadata={"description": "E.164, or national format in the default region."})
    postal_address = fields.Nested(PostalAddressSchema, allow_none=True)
    locale = fields.String(allow_none=True)


class ChannelStateSchema(Schema):
    address = fields.String(allow_none=True, metadata={"description": "Masked."})
    stopped = fields.Boolean(required=True)
    sms_stop = fields.Boolean()


class CellSchema(Schema):
    allowed = fields.Boolean(required=True)
    reason = fields.String(required=True, validate=validate.OneOf(REASONS))
    choice = fields.Boolean(allow_none=True, metadata={"description": "The stored choice, null when none."})


class MatrixTopicSchema(Schema):
    key = fields.String(required=True)
    name = fields.String(required=True)
    description = fields.String()
    mandatory = fields.Boolean(required=True)
    channels = fields.Dict(keys=fields.String(validate=validate.OneOf(CHANNELS)), values=fields.Nested(CellSchema), required=True)


class MatrixSchema(Schema):
    recipient_id = fields.String(required=True)
    status = fields.String(required=True)
    all_marketing = fields.String(required=True, validate=validate.OneOf(("active", "stopped")))
    channels = fields.Dict(keys=fields.String(validate=validate.OneOf(CHANNELS)), values=fields.Nested(ChannelStateSchema), required=True)
    topics = fields.List(fields.Nested(MatrixTopicSchema), required=True)


class RecipientSchema(Schema):
    id = fields.String(required=True)
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    postal_address = fields.Nested(PostalAddressSchema, allow_none=True)
    locale = fields.String(allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(("active", "deactivated", "erased")))
    created_at = UTCDateTime(required=True)
    updated_at = UTCDateTime(required=True)


class RecipientWithPreferencesSchema(RecipientSchema):
    preferences = fields.Nested(MatrixSchema, required=True)


class RecipientListSchema(Schema):
    recipients = fields.List(fields.Nested(RecipientSchema), required=True)


class RecipientQuerySchema(StrictSchema):
    email = fields.String()
    phone = fields.String()


class ChangeSchema(StrictSchema):
    subscribed = StrictBoolean(required=True)
    topic = fields.String(allow_none=True)
    channel = Channel(allow_none=True)


class EvidenceSchema(Schema):
    """Free-form proof of consent; collected_at and source are needed to lift a suppression."""

    class Meta:
        unknown = "include"

    collected_at = fields.String(validate=lambda value: _is_iso_datetime(value), metadata={"description": "When the person consented (ISO 8601 date or date-time)."})
    source = fields.String(metadata={"description": "How: e.g. signup form, checkout checkbox."})
    wording = fields.String()
    version = fields.String()
    message_id = fields.String()
    ip = fields.String()
    user_agent = fields.String()


class PreferencesPatchSchema(StrictSchema):
    changes = fields.List(fields.Nested(ChangeSchema), required=True, validate=validate.Length(min=1, max=200))
    reason = fields.String(allow_none=True, validate=validate.Length(max=1000))
    evidence = fields.Nested(EvidenceSchema, allow_none=True)


class ReasonSchema(StrictSchema):
    reason = fields.String(allow_none=True, validate=validate.Length(max=1000))


# --- events ---------------------------------------------------------------------------------------------
class EventSchema(Schema):
    id = fields.Integer(required=True)
    at = UTCDateTime(required=True)
    recipient_id = fields.String(required=True)
    actor = fields.String(required=True)
    actor_id = fields.String(allow_none=True)
    via = fields.String(required=True)
    kind = fields.String(required=True)
    topic = fields.String(allow_none=True)
    channel = fields.String(allow_none=True)
    before = fields.Raw(allow_none=True)
    after = fields.Raw(allow_none=True)
    reason = fields.String(allow_none=True)
    evidence = fields.Dict(allow_none=True)


class EventPageSchema(Schema):
    events = fields.List(fields.Nested(EventSchema), required=True)
    next = fields.String(required=True, allow_none=True, metadata={"description": "Cursor of the next page; null at the end."})


class FeedQuerySchema(StrictSchema):
    after = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_ID), metadata={"description": "An event id; the feed starts after it."})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class FeedPageSchema(Schema):
    events = fields.List(fields.Nested(EventSchema), required=True)
    next = fields.Integer(required=True, allow_none=True, metadata={"description": "Pass as `after` next; null on an empty page (caught up)."})


class ExportSchema(Schema):
    """Everything held about the person (GDPR Art. 20)."""

    exported_at = fields.String(required=True)
    recipient = fields.Dict(required=True)
    preferences = fields.Nested(MatrixSchema, required=True)
    choices = fields.List(fields.Dict(), required=True)
    suppressed = fields.Dict(keys=fields.String(), values=fields.Boolean(), required=True)
    events = fields.List(fields.Nested(EventSchema), required=True)


class EventPageQuerySchema(StrictSchema):
    cursor = fields.String()
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


# --- topics ---------------------------------------------------------------------------------------------
class TopicSchema(Schema):
    key = fields.String(required=True)
    name = fields.String(required=True)
    description = fields.String(required=True)
    mandatory = fields.Boolean(required=True)
    channels = fields.List(Channel(), required=True)
    default_subscribed = fields.Dict(keys=Channel(), values=fields.Boolean(), required=True)
    archived = fields.Boolean(required=True)


class TopicCreateSchema(StrictSchema):
    key = fields.String(required=True, validate=TOPIC_KEY)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(allow_none=True, validate=validate.Length(max=2000))
    mandatory = StrictBoolean(load_default=False)
    channels = fields.List(Channel(), required=True, validate=validate.Length(min=1, max=len(CHANNELS)))
    default_subscribed = fields.Dict(keys=Channel(), values=StrictBoolean())


class TopicPatchSchema(StrictSchema):
    key = fields.String(metadata={"description": "Immutable: accepted only unchanged."})
    name = fields.String(validate=validate.Length(min=1, max=200))
    description = fields.String(allow_none=True, validate=validate.Length(max=2000))
    mandatory = StrictBoolean(metadata={"description": "Immutable: accepted only unchanged."})
    channels = fields.List(Channel(), validate=validate.Length(min=1, max=len(CHANNELS)))
    default_subscribed = fields.Dict(keys=Channel(), values=StrictBoolean())
    archived = StrictBoolean()


class TopicListSchema(Schema):
    topics = fields.List(fields.Nested(TopicSchema), required=True)
