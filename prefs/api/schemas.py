"""marshmallow schemas of the JSON API: what is accepted, what is answered, and the OpenAPI document.

One definition, three readers (SPEC §11): marshmallow enforces these schemas, apispec renders them as
/api/v1/openapi.json (blueprint.py adds what apispec cannot infer from a field: `oneOf` for "exactly one of",
`uniqueItems`, path parameters), and the check's hot path runs them through `LeanSchema`, which reads the
same fields and validators without marshmallow's per-object machinery. A pattern here is the document's
pattern, matched as the document means it (`Pattern`).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

from .. import storable_text
from ..addresses import E164_RE, LOCALE_RE, RECIPIENT_ID_RE, time_zone_names
from ..channels import CHANNELS, channels_reaching
from ..decision import TOPIC_KEY_RE
from ..languages import LANGUAGES
from ..services import insights
from ..services.audience import AUDIENCE_REASONS
from ..services.checks import LOOKUP_FIELDS, MAX_BATCH
from ..services.consent import consent_time_problem
from ..services.outbox import EVENT_TYPES
from ..services.topics import CONFIRMATIONS

MAX_ID = 2**63 - 1  # the largest id a database integer holds
REASONS = (
    "topic_archived", "topic_not_on_channel", "suppressed", "unknown_recipient", "deactivated", "erased",
    "no_address", "undeliverable", "sms_stop", "mandatory", "quiet_hours", "dnc_list_stale", "do_not_call",
    "all_marketing_unsubscribed", "channel_unsubscribed", "subscribed", "unsubscribed", "default", "no_consent",
)  # fmt: skip


class Pattern(validate.Validator):
    r"""A regular expression as OpenAPI means it (ECMA-262, searched, `$` only at the very end).

    Python's `$` also matches before a final newline, which let an id, a topic key and a locale end in one;
    here `$` becomes `\Z`, so the value refused is exactly the value the document refuses.
    """

    error: str

    def __init__(self, regex: re.Pattern | str, error: str) -> None:
        self.regex = re.compile(regex) if isinstance(regex, str) else regex  # apispec documents regex.pattern
        self._search = re.compile(re.sub(r"(?<!\\)\$", r"\\Z", self.regex.pattern)).search
        self.error = error

    def __call__(self, value: str) -> str:
        if self._search(value) is None:
            raise ValidationError(self.error)
        return value


class Distinct(validate.Validator):
    """No item twice (documented as `uniqueItems`)."""

    def __call__(self, value: list) -> list:
        if len(set(value)) != len(value):
            raise ValidationError("An item is given twice.")
        return value


class StrictBoolean(fields.Boolean):
    """JSON true or false only: 1, "yes" or "true" are refused (1 == True in Python, so truthy sets let it in)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


def Channel(**kwargs) -> fields.String:  # noqa: N802  (field factories read like field classes)
    return fields.String(validate=validate.OneOf(CHANNELS), **kwargs)


def RecipientId(**kwargs) -> fields.String:  # noqa: N802
    return fields.String(
        validate=Pattern(RECIPIENT_ID_RE, "1-128 letters, digits, '.', '_', ':' or '-', not only dots."), **kwargs
    )


def TopicKey(**kwargs) -> fields.String:  # noqa: N802
    error = "Lower-case letters, digits, '_' and '-', starting with a letter or digit, at most 64."
    return fields.String(validate=Pattern(TOPIC_KEY_RE, error), **kwargs)


def MessageId(**kwargs) -> fields.String:  # noqa: N802
    return fields.String(validate=validate.Length(min=1, max=255), **kwargs)


# What Python's str.isspace() and `\s` call white space, spelled out: ECMA-262's `\s` is another set, and a
# pattern must mean to a client what it means here (tests/test_check_input_matches_document.py compares).
SPACE = r"\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# A look-up (the check, GET /recipients) needs only an address shaped like one: prefs/addresses.py's
# LOOKUP_EMAIL_RE, after trimming, so white space around it is allowed too.
LOOKUP_EMAIL = re.compile(rf"^[{SPACE}]*[^@{SPACE}\x00]{{1,64}}@[^@{SPACE}\x00]+\.[^@{SPACE}\x00]+[{SPACE}]*$")


def LookupEmail(**kwargs) -> fields.String:  # noqa: N802
    return fields.String(
        validate=[validate.Length(max=320), Pattern(LOOKUP_EMAIL, "Not a valid email address.")],
        metadata={
            "description": "Looked up trimmed and in its canonical spelling: any case, NFC or NFD, U-label or A-label domain."
        },
        **kwargs,
    )


def Email(**kwargs) -> fields.String:  # noqa: N802
    return fields.String(
        validate=validate.Length(max=254),
        metadata={
            "format": "email",
            "description": "Syntax-checked (no DNS look-up), trimmed and stored in one canonical spelling; special-use domains (.test, .local, .invalid, .localhost, .onion, .arpa) are refused.",
        },
        **kwargs,
    )


PHONE_DESCRIPTION = "E.164 (+14155550123), or national format in the default region (PREFS_DEFAULT_PHONE_REGION)"


def PhoneNumber(**kwargs) -> fields.String:  # noqa: N802
    """A number to store: `format: phone` means one that libphonenumber calls valid, once trimmed."""
    return fields.String(
        validate=validate.Length(min=1, max=64),
        metadata={"format": "phone", "description": f"A valid number: {PHONE_DESCRIPTION}."},
        **kwargs,
    )


def LookupPhone(**kwargs) -> fields.String:  # noqa: N802
    """A number to look up: E.164 is taken as it is (the batch's fast path), anything else must be valid."""
    return fields.String(
        validate=validate.Length(min=1, max=64),
        metadata={
            "anyOf": [{"pattern": E164_RE.pattern}, {"format": "phone"}],
            "description": f"{PHONE_DESCRIPTION}; a number no one has is unknown_recipient.",
        },
        **kwargs,
    )


# RFC 3339 full-date or date-time, year 1990 or later; the calendar and the clock are checked on parsing.
# Upper-case T and Z and no leap second: what the usual `format: date-time` validators (jsonschema's
# rfc3339-validator among them) accept, so a value the document calls valid is exactly one we take.
CONSENT_TIME = re.compile(
    r"^(199[0-9]|[2-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$"
)  # [0-9], not \d: Python's \d takes any script's digits


class ConsentTimeRule(Pattern):
    """CONSENT_TIME, a real date and time, and a time the person can have consented at (services/consent.py)."""

    def __init__(self, regex: re.Pattern, error: str) -> None:
        super().__init__(regex, error)
        self._shape = Pattern(regex.pattern.replace("(199[0-9]|[2-9][0-9]{3})", "[0-9]{4}", 1), error)  # any year

    def __call__(self, value: str) -> str:
        self._shape(value)
        text = value.replace("Z", "+00:00")
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            raise ValidationError("Not a real date.") from None
        problem = consent_time_problem(when)  # a date alone is its midnight, UTC
        if problem:
            raise ValidationError(problem)
        return super().__call__(value)  # the documented pattern, which says "1990 on" as a pattern can


def ConsentTime(**kwargs) -> fields.String:  # noqa: N802
    return fields.String(
        validate=ConsentTimeRule(CONSENT_TIME, "An RFC 3339 date or date-time from 1990 on, e.g. 2026-11-01T10:00:00Z."),
        metadata={
            "anyOf": [{"format": "date-time"}, {"format": "date"}],
            "description": "When the person consented: an RFC 3339 date-time (or a date), not before 1990 and not in the future (5 minutes of clock skew allowed).",
        },
        **kwargs,
    )


# RFC 3339 date-time with its offset (Z or ±HH:MM), years 1970-2999, upper-case T and Z as CONSENT_TIME;
# the calendar is checked on parsing.
CHECK_TIME = re.compile(
    r"^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)


class CheckTimeRule(Pattern):
    """CHECK_TIME and a real date (no 30 February)."""

    def __call__(self, value: str) -> str:
        super().__call__(value)
        try:
            datetime.fromisoformat(value)
        except ValueError:
            raise ValidationError("Not a real date.") from None
        return value


CHECK_TIME_RULES = (
    "An RFC 3339 date-time with its offset (e.g. 2026-12-01T20:30:00-05:00). Quiet hours (PREFS_QUIET_HOURS) are judged "
    "in the person's local time at that moment, and the do-not-call list's age on its date."
)


def CheckTime(default: str) -> fields.String:  # noqa: N802
    """When the message would go out (SPEC §17); `default` says what stands in when it is left out."""
    return fields.String(
        validate=CheckTimeRule(CHECK_TIME, "An RFC 3339 date-time with its offset, e.g. 2026-12-01T20:30:00-05:00."),
        metadata={"format": "date-time", "description": f"When the message would go out; default: {default}. {CHECK_TIME_RULES}"},
    )


def UnsubscribeHeaders(**kwargs) -> fields.Dict:  # noqa: N802
    kwargs.setdefault(
        "metadata",
        {
            "description": "List-Unsubscribe (<https://…/u/…>, plus <mailto:…> when configured) and List-Unsubscribe-Post: List-Unsubscribe=One-Click."
        },
    )
    return fields.Dict(
        keys=fields.String(validate=validate.OneOf(("List-Unsubscribe", "List-Unsubscribe-Post"))),
        values=fields.String(),
        **kwargs,
    )


class Day(fields.Date):
    """A day written YYYY-MM-DD, read by the insights' own rule (services/insights.py day_asked), as the console
    reads it: not the other spellings Python's date parser takes (20260101, 2026-W01-1)."""

    def _deserialize(self, value, attr, data, **kwargs):
        day = insights.day_asked(value) if isinstance(value, str) else None
        if day is None:
            raise self.make_error("invalid")
        return day


class UTCDateTime(fields.DateTime):
    """SQLite hands back naive datetimes; every stored time is UTC, so say so."""

    def _serialize(self, value: datetime | str | None, attr, obj, **kwargs):
        if isinstance(value, str):  # already ISO 8601 (an export assembled by the service)
            return value
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return super()._serialize(value, attr, obj, **kwargs)


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class OneOfFieldsSchema(StrictSchema):
    """Some fields are alternatives: exactly one of `exactly_one_of` must be given (documented as `oneOf`)."""

    exactly_one_of: ClassVar[tuple[str, ...]] = ()
    # What else holds when one alternative is given (JSON schema, documented as an `anyOf` beside the `oneOf`);
    # the rule itself is the service's.
    when_given: ClassVar[Mapping[str, Mapping[str, Any]]] = {}

    @classmethod
    def one_of_message(cls) -> str:
        return f"Give exactly one of {', '.join(cls.exactly_one_of)}."

    @validates_schema
    def _exactly_one(self, data: Mapping[str, Any], **kwargs) -> None:
        if sum(name in data for name in self.exactly_one_of) != 1:
            raise ValidationError(self.one_of_message(), "_schema")


class ItemOrAnything(fields.Raw):
    """A list item that is one of `schema` when well formed; anything else is accepted too and answered on its
    own (the batch check answers a malformed item `invalid` and still answers the others)."""

    def __init__(self, schema: type[Schema], otherwise: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.schema = schema
        self.otherwise = otherwise


@dataclass(frozen=True, slots=True)
class LeanField:
    json_type: type
    validators: tuple
    tests: tuple  # the validators as yes/no tests; the validators themselves only word a refusal
    messages: Mapping[str, Any]  # the field's error_messages


def _as_test(validator: Callable[[Any], Any]) -> Callable[[Any], bool]:
    """A validator as a yes/no test that does not raise on the way: the hot path only needs the answer."""
    if type(validator) is Pattern:
        search = validator._search
        return lambda value: search(value) is not None
    if type(validator) is validate.Length and validator.equal is None:
        low, high = validator.min or 0, validator.max if validator.max is not None else float("inf")
        return lambda value: low <= len(value) <= high
    if type(validator) is validate.OneOf:
        return frozenset(validator.choices).__contains__

    def passes(value: Any) -> bool:
        try:
            validator(value)
        except ValidationError:
            return False
        return True

    return passes


class LeanSchema:
    """A schema above compiled for the check's hot path (SPEC §9: a batch stays within a small factor of its SQL).

    It applies the schema's own fields, JSON types, validators, required fields, unknown-field refusal and
    exactly-one rule, so what it accepts is what the schema (and the document) says, without building a
    marshmallow load per item. tests/test_check_input_matches_document.py compares both on random input.
    """

    JSON_TYPES: ClassVar[tuple[tuple[type, type], ...]] = ((fields.String, str), (StrictBoolean, bool), (fields.List, list))

    def __init__(self, schema: type[Schema], *, judges_stored_text: bool = False) -> None:
        # Only for a body the request guard lets through unread (the batch's, request_guards.BATCH_PATH): any
        # other request's text was judged before the view, and the single check's hot path need not do it twice.
        self.judges_stored_text = judges_stored_text
        declared = schema().fields
        self.fields = {name: self._compile(name, field) for name, field in declared.items()}
        self.required = tuple(name for name, field in declared.items() if field.required)
        one_of = schema if issubclass(schema, OneOfFieldsSchema) and schema.exactly_one_of else None
        self.exactly_one_of = one_of.exactly_one_of if one_of else ()
        self.one_of_message = one_of.one_of_message() if one_of else ""

    def _compile(self, name: str, field: fields.Field) -> LeanField:
        json_type = next((json for kind, json in self.JSON_TYPES if isinstance(field, kind)), None)
        if json_type is None or field.allow_none:
            raise TypeError(f"LeanSchema has no rule for {name}: {type(field).__name__} (allow_none={field.allow_none})")
        validators = tuple(field.validators)
        return LeanField(json_type, validators, tuple(_as_test(validator) for validator in validators), field.error_messages)

    def errors(self, raw: Mapping[str, Any]) -> dict[str, list[str]]:
        """Field errors in marshmallow's shape; empty when `raw` is valid."""
        errors: dict[str, list[str]] = {}
        for name, value in raw.items():
            rule = self.fields.get(name)
            if rule is None:
                errors[name] = ["Unknown field."]
            elif value is None:
                errors[name] = [rule.messages["null"]]
            elif type(value) is not rule.json_type:  # exact type: a bool is not an int, a str subclass cannot arrive from JSON
                errors[name] = [rule.messages["invalid"]]
            elif self.judges_stored_text and type(value) is str and (unstorable := storable_text.problem(value)):
                errors[name] = [unstorable]  # what the request guard refuses of any other request
            else:
                for passes in rule.tests:
                    if not passes(value):
                        errors[name] = self._refusal(rule, value)
                        break
        for name in self.required:
            if name not in raw:
                errors[name] = [self.fields[name].messages["required"]]
        if self.exactly_one_of and not errors:
            given = 0
            for name in self.exactly_one_of:
                if name in raw:
                    given += 1
            if given != 1:
                errors["_schema"] = [self.one_of_message]
        return errors

    @staticmethod
    def _refusal(rule: LeanField, value: Any) -> list[str]:
        """The words of the first validator that refuses `value`, as marshmallow would give them."""
        for validator in rule.validators:
            try:
                validator(value)
            except ValidationError as error:
                return error.messages if isinstance(error.messages, list) else [str(error.messages)]
        raise AssertionError("a test refused what its validator accepts")  # _as_test and the validator disagree


# --- errors ---------------------------------------------------------------------------------------------
class ErrorBodySchema(Schema):
    code = fields.String(required=True, metadata={"description": "Stable error code, e.g. invalid, unknown_topic."})
    message = fields.String(required=True)
    details = fields.Dict(required=True, metadata={"description": "Field errors, keyed by field name."})


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBodySchema, required=True)


# --- checks ---------------------------------------------------------------------------------------------
class CheckItemSchema(OneOfFieldsSchema):
    """Exactly one of recipient_id, email, phone."""

    exactly_one_of = LOOKUP_FIELDS
    recipient_id = RecipientId()
    email = LookupEmail()
    phone = LookupPhone()
    topic = TopicKey(required=True, metadata={"description": "A topic key; one not in the catalogue is 422 unknown_topic."})
    channel = Channel(required=True)
    at = CheckTime("now")


class BatchItemSchema(CheckItemSchema):
    topic = TopicKey(
        metadata={"description": "Defaults to the request's topic; one not in the catalogue is answered invalid (unknown_topic)."}
    )
    channel = Channel(metadata={"description": "Defaults to the request's channel."})
    at = CheckTime("the request's `at`, else now (one instant for the whole batch)")
    message_id = MessageId(metadata={"description": "Carried into the links' evidence (include_links)."})


class BatchRequestSchema(StrictSchema):
    checks = fields.List(
        ItemOrAnything(
            BatchItemSchema,
            "Anything else is answered {allowed: false, reason: invalid, error}; the other items are still answered.",
        ),
        required=True,
        validate=validate.Length(min=1, max=MAX_BATCH),
        metadata={
            "description": f"1 to {MAX_BATCH:,} items; more is 413 too_large. An item, after the top-level topic and channel fill what it lacks, is a CheckItem plus message_id."
        },
    )
    topic = TopicKey()
    channel = Channel()
    at = CheckTime("now; it fills items without their own `at`")
    include_links = StrictBoolean(load_default=False)


class CheckResultSchema(Schema):
    allowed = fields.Boolean(required=True)
    reason = fields.String(required=True, validate=validate.OneOf(REASONS))
    recipient_id = fields.String(required=True, allow_none=True)
    topic = fields.String(required=True)
    channel = fields.String(required=True)


class AudienceRequestSchema(OneOfFieldsSchema):
    """Exactly one of recipient_id, email, phone."""

    exactly_one_of = LOOKUP_FIELDS
    recipient_id = RecipientId()
    email = LookupEmail()
    phone = LookupPhone()


class AudienceResultSchema(Schema):
    allowed = fields.Boolean(required=True, metadata={"description": "Whether the person may go into an advertising audience."})
    reason = fields.String(
        required=True,
        validate=validate.OneOf(AUDIENCE_REASONS),
        metadata={
            "description": "`no_opt_out` allows. `do_not_sell_or_share`: the person opted out of the sale or sharing of "
            "their personal information (Global Privacy Control or the preference center). `suppressed`: an address "
            "of theirs (or the one asked about) must get no marketing. `unknown_recipient`, `deactivated`, `erased`."
        },
    )
    recipient_id = fields.String(required=True, allow_none=True)


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
    recipient_id = RecipientId(required=True)
    channel = Channel(load_default="email")
    topic = TopicKey(
        allow_none=True,
        metadata={
            "description": "Without a topic the link stops all marketing on the channel. A topic not sent on the channel is 422 invalid."
        },
    )
    message_id = MessageId(allow_none=True)


class LinksSchema(Schema):
    unsubscribe_url = fields.String(required=True)
    preferences_url = fields.String(required=True)
    headers = UnsubscribeHeaders(
        metadata={
            "description": "Email only (absent for sms, phone and post links): List-Unsubscribe (<https://…/u/…>, plus "
            "<mailto:…> when configured) and List-Unsubscribe-Post: List-Unsubscribe=One-Click."
        }
    )


# --- recipients -----------------------------------------------------------------------------------------
class PostalAddressSchema(StrictSchema):
    """Text is stored trimmed; the country upper-cased."""

    lines = fields.List(
        fields.String(validate=[validate.Length(max=200), Pattern(rf"[^{SPACE}]", "Not a blank line.")]),
        required=True,
        validate=validate.Length(min=1, max=5),
    )
    city = fields.String(allow_none=True, validate=validate.Length(max=100))
    region = fields.String(allow_none=True, validate=validate.Length(max=100))
    postal_code = fields.String(allow_none=True, validate=validate.Length(max=100))
    country = fields.String(
        required=True,
        validate=Pattern(r"^[A-Za-z]{2}$", "An ISO 3166 two-letter country code."),
        metadata={"description": "ISO 3166-1 alpha-2"},
    )


class RecipientInSchema(StrictSchema):
    """Fields given are merged in; null clears one; fields left out stay as they are."""

    email = Email(allow_none=True)
    phone = PhoneNumber(allow_none=True)
    postal_address = fields.Nested(PostalAddressSchema, allow_none=True)
    locale = fields.String(
        allow_none=True,
        validate=Pattern(LOCALE_RE, "Not a valid locale (e.g. en, en-GB, fr_CA)."),
        metadata={"description": "Stored with '-' for '_'."},
    )
    time_zone = fields.String(
        allow_none=True,
        # The tz database's names as this server has them: the document lists exactly what is accepted.
        validate=validate.OneOf(sorted(time_zone_names()), error="Not an IANA time zone name (e.g. America/New_York)."),
        metadata={
            "description": "An IANA time zone name (e.g. America/New_York), for quiet hours; "
            "without one, the zones the phone number implies count."
        },
    )


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
    channels = fields.Dict(
        keys=fields.String(validate=validate.OneOf(CHANNELS)), values=fields.Nested(ChannelStateSchema), required=True
    )
    topics = fields.List(fields.Nested(MatrixTopicSchema), required=True)


class RecipientSchema(Schema):
    id = fields.String(required=True)
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    postal_address = fields.Nested(PostalAddressSchema, allow_none=True)
    locale = fields.String(allow_none=True)
    time_zone = fields.String(allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(("active", "deactivated", "erased")))
    created_at = UTCDateTime(required=True)
    updated_at = UTCDateTime(required=True)


class RecipientWithPreferencesSchema(RecipientSchema):
    preferences = fields.Nested(MatrixSchema, required=True)


class RecipientListSchema(Schema):
    recipients = fields.List(fields.Nested(RecipientSchema), required=True)


class RecipientQuerySchema(OneOfFieldsSchema):
    exactly_one_of = ("email", "phone")
    email = LookupEmail()
    phone = LookupPhone()


class ChangeSchema(StrictSchema):
    subscribed = StrictBoolean(required=True)
    topic = TopicKey(allow_none=True, metadata={"description": "With a channel, one the topic is sent on (else 422 invalid)."})
    channel = Channel(allow_none=True)


class EvidenceSchema(Schema):
    """Free-form proof of consent; collected_at and source are needed to lift a suppression."""

    class Meta:
        unknown = "include"

    collected_at = ConsentTime()
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


# An opaque page cursor: the event id below which the next page starts, as its 8 big-endian bytes in unpadded
# base64url. Every string of this pattern decodes to an id below 2**63 (a database integer), so the pattern is
# the whole rule: the first character keeps the top bit 0, the last one the two spare bits.
EVENT_CURSOR = re.compile(r"^[A-Za-f][A-Za-z0-9_-]{9}[AEIMQUYcgkosw048]$")


def encode_event_cursor(event_id: int) -> str:
    return base64.urlsafe_b64encode(event_id.to_bytes(8, "big")).decode().rstrip("=")


def decode_event_cursor(cursor: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(cursor + "="), "big")


class EventCursor(fields.String):
    """An event id, answered as its cursor."""

    def _serialize(self, value: Any, attr, obj, **kwargs) -> str | None:  # an int, though a string to the document
        return None if value is None else encode_event_cursor(value)


class EventPageSchema(Schema):
    events = fields.List(fields.Nested(EventSchema), required=True)
    next = EventCursor(
        required=True, allow_none=True, metadata={"description": "Pass as `cursor` for the next page; null at the end."}
    )


class FeedQuerySchema(StrictSchema):
    after = fields.Integer(
        load_default=0,
        validate=validate.Range(min=0, max=MAX_ID),
        metadata={"description": "An event id; the feed starts after it."},
    )
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class FeedPageSchema(Schema):
    events = fields.List(fields.Nested(EventSchema), required=True)
    next = fields.Integer(
        required=True, allow_none=True, metadata={"description": "Pass as `after` next; null on an empty page (caught up)."}
    )


class ExportSchema(Schema):
    """Everything held about the person (GDPR Art. 20)."""

    exported_at = fields.String(required=True)
    recipient = fields.Dict(required=True)
    preferences = fields.Nested(MatrixSchema, required=True)
    choices = fields.List(fields.Dict(), required=True)
    suppressed = fields.Dict(keys=fields.String(), values=fields.Boolean(), required=True)
    events = fields.List(fields.Nested(EventSchema), required=True)
    consents = fields.List(fields.Dict(), required=True, metadata={"description": "The consent records (as `…/consents`)."})
    provider_reports = fields.List(
        fields.Dict(),
        required=True,
        metadata={"description": "What mail providers reported about the email address (bounces, complaints, unsubscribes)."},
    )
    provider_pushes = fields.List(
        fields.Dict(),
        required=True,
        metadata={"description": "Each push of the address to a mail provider's list, or its removal."},
    )
    mails = fields.List(
        fields.Dict(), required=True, metadata={"description": "The mails prefs sent or queued to the person (no message kept)."}
    )


class EventPageQuerySchema(StrictSchema):
    cursor = fields.String(
        validate=Pattern(EVENT_CURSOR, "Not a cursor this API hands out."),
        metadata={"description": "A `next` from the previous page."},
    )
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))

    @post_load
    def _event_id(self, data: dict, **kwargs) -> dict:
        if "cursor" in data:
            data["cursor"] = decode_event_cursor(data["cursor"])
        return data


# --- topics ---------------------------------------------------------------------------------------------
# Admins' translations of a topic's texts for the recipient pages (SPEC §16), keyed by the pages' languages.
TRANSLATED_NAMES = (
    f"The name in other languages for the recipient pages, by language tag ({', '.join(LANGUAGES)}); a page in a "
    "language without one shows `name`. Each at most 200 characters; an empty text drops that language."
)
TRANSLATED_DESCRIPTIONS = (
    f"The description in other languages, by language tag ({', '.join(LANGUAGES)}); each at most 2000 characters."
)


# One optional text per language the pages speak: another key is 422 invalid, and the document says so.
TopicNamesSchema = StrictSchema.from_dict(
    {tag: fields.String(validate=validate.Length(max=200)) for tag in LANGUAGES}, name="TopicNamesSchema"
)
TopicDescriptionsSchema = StrictSchema.from_dict(
    {tag: fields.String(validate=validate.Length(max=2000)) for tag in LANGUAGES}, name="TopicDescriptionsSchema"
)


CONFIRMATION = (
    "How an opt-in by email is taken: `single` (the default) stores it at once; `double` stores it only once the "
    "person confirms through a link mailed to them (`POST /api/v1/subscriptions`), and needs outbound email set up. "
    "Other channels are always single. A double opt-in topic is sent by email, is not mandatory and is not on by "
    "default by email (else 422 invalid)."
)


def Translations(schema: type[Schema], description: str, **kwargs) -> fields.Nested:  # noqa: N802
    return fields.Nested(schema, allow_none=True, metadata={"description": description}, **kwargs)


class TopicSchema(Schema):
    key = fields.String(required=True)
    name = fields.String(required=True)
    description = fields.String(required=True)
    mandatory = fields.Boolean(required=True)
    channels = fields.List(Channel(), required=True)
    default_subscribed = fields.Dict(keys=Channel(), values=fields.Boolean(), required=True)
    archived = fields.Boolean(required=True)
    names = fields.Nested(TopicNamesSchema, required=True, metadata={"description": TRANSLATED_NAMES})
    descriptions = fields.Nested(TopicDescriptionsSchema, required=True, metadata={"description": TRANSLATED_DESCRIPTIONS})
    confirmation = fields.String(required=True, validate=validate.OneOf(CONFIRMATIONS), metadata={"description": CONFIRMATION})


# On by default per channel; only channels the topic is sent on (else 422 invalid); a channel left out is off.
ChannelFlagsSchema = StrictSchema.from_dict({channel: StrictBoolean() for channel in CHANNELS}, name="ChannelFlagsSchema")


def Channels(**kwargs) -> fields.List:  # noqa: N802
    return fields.List(Channel(), validate=[validate.Length(min=1, max=len(CHANNELS)), Distinct()], **kwargs)


class TopicCreateSchema(StrictSchema):
    key = TopicKey(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(allow_none=True, validate=validate.Length(max=2000))
    mandatory = StrictBoolean(load_default=False)
    channels = Channels(required=True)
    default_subscribed = fields.Nested(ChannelFlagsSchema)
    names = Translations(TopicNamesSchema, TRANSLATED_NAMES)
    descriptions = Translations(TopicDescriptionsSchema, TRANSLATED_DESCRIPTIONS)
    confirmation = fields.String(
        load_default="single", validate=validate.OneOf(CONFIRMATIONS), metadata={"description": CONFIRMATION}
    )


class TopicPatchSchema(StrictSchema):
    key = TopicKey(metadata={"description": "Immutable: accepted only unchanged (else 422 immutable_field)."})
    name = fields.String(validate=validate.Length(min=1, max=200))
    description = fields.String(allow_none=True, validate=validate.Length(max=2000))
    mandatory = StrictBoolean(metadata={"description": "Immutable: accepted only unchanged (else 422 immutable_field)."})
    channels = Channels(metadata={"description": "A mandatory topic can only gain channels (else 422 mandatory_topic)."})
    default_subscribed = fields.Nested(ChannelFlagsSchema)
    archived = StrictBoolean(metadata={"description": "A mandatory topic cannot be archived (422 mandatory_topic)."})
    names = Translations(TopicNamesSchema, TRANSLATED_NAMES + " Replaces the whole map.")
    descriptions = Translations(TopicDescriptionsSchema, TRANSLATED_DESCRIPTIONS + " Replaces the whole map.")
    confirmation = fields.String(validate=validate.OneOf(CONFIRMATIONS), metadata={"description": CONFIRMATION})


class TopicListSchema(Schema):
    topics = fields.List(fields.Nested(TopicSchema), required=True)


# --- webhook endpoints (SPEC §13)
WEBHOOK_EVENT_CHOICES = ("*", *EVENT_TYPES)
WebhookEvents = fields.List(
    fields.String(validate=validate.OneOf(WEBHOOK_EVENT_CHOICES)),
    validate=validate.Length(min=1, max=len(WEBHOOK_EVENT_CHOICES)),
    metadata={"description": '`["*"]` for every type, or the types wanted.'},
)
# The document can say the URL's shape; whether its host may be reached depends on DNS and settings (422 invalid).
WEBHOOK_URL = Pattern(r"^(?i:https?)://[^\s/?#@]+", "An https:// URL.")
WEBHOOK_URL_RULES = (
    "https:// only, and never a loopback, private, link-local or metadata address (checked now and on every connect); "
    "hosts in PREFS_WEBHOOK_ALLOW_HOSTS are exempt and may use http://. Otherwise 422 invalid."
)


class WebhookCreateSchema(StrictSchema):
    url = fields.String(
        required=True, validate=[validate.Length(min=1, max=2000), WEBHOOK_URL], metadata={"description": WEBHOOK_URL_RULES}
    )
    events = fields.List(
        fields.String(validate=validate.OneOf(WEBHOOK_EVENT_CHOICES)),
        load_default=lambda: ["*"],
        validate=validate.Length(min=1, max=len(WEBHOOK_EVENT_CHOICES)),
        metadata={"description": '`["*"]` (the default) for every type, or the types wanted.'},
    )
    description = fields.String(load_default="", validate=validate.Length(max=500))


class WebhookPatchSchema(StrictSchema):
    url = fields.String(validate=[validate.Length(min=1, max=2000), WEBHOOK_URL], metadata={"description": WEBHOOK_URL_RULES})
    events = WebhookEvents
    description = fields.String(validate=validate.Length(max=500))
    enabled = StrictBoolean(metadata={"description": "Re-enabling clears the failure record."})


class WebhookSchema(Schema):
    id = fields.Integer(required=True)
    url = fields.String(required=True)
    description = fields.String(required=True)
    events = fields.List(fields.String(), required=True)
    enabled = fields.Boolean(required=True)
    disabled_reason = fields.String(allow_none=True)
    failing_since = fields.String(allow_none=True)
    created_at = fields.String(required=True)
    updated_at = fields.String(required=True)


class WebhookCreatedSchema(WebhookSchema):
    secret = fields.String(required=True, metadata={"description": "`whsec_` + base64: shown only in this answer."})


class WebhookListSchema(Schema):
    webhooks = fields.List(fields.Nested(WebhookSchema), required=True)


class WebhookSecretSchema(Schema):
    secret = fields.String(required=True, metadata={"description": "The new secret; the old one keeps signing for 24 h."})


class DeliveryAttemptSchema(Schema):
    message_id = fields.String(required=True, metadata={"description": "The webhook-id header."})
    type = fields.String(required=True)
    event_id = fields.Integer(allow_none=True)
    at = fields.String(required=True)
    status_code = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True)
    duration_ms = fields.Integer(required=True)
    delivery_status = fields.String(required=True, metadata={"description": "pending, delivered or failed."})
    attempt = fields.Integer(required=True)


class DeliveryAttemptListSchema(Schema):
    deliveries = fields.List(fields.Nested(DeliveryAttemptSchema), required=True)


class ReplaySchema(StrictSchema):
    after = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=0, max=2**63 - 1), metadata={"description": "An event id."}
    )


class ReplayResultSchema(Schema):
    queued = fields.Integer(required=True)
    last_event_id = fields.Integer(required=True, metadata={"description": "Pass as `after` again to queue more."})


class SyncReceiptSchema(Schema):
    state = fields.String(
        required=True,
        validate=validate.OneOf(("pending", "done", "failed")),
        metadata={
            "description": "pending: queued, not tried yet; failed: the last try failed (tried again at "
            "`next_attempt_at`, or never again when that is null); done: the provider has it."
        },
    )
    action = fields.String(
        required=True,
        validate=validate.OneOf(("suppress", "unsuppress")),
        metadata={"description": "suppress: put on the provider's list; unsuppress: taken off it after an opt-in."},
    )
    attempts = fields.Integer(required=True, metadata={"description": "Requests made so far (0 while queued)."})
    last_error = fields.String(
        allow_none=True, required=True, metadata={"description": "Why the last try failed; null after a success."}
    )
    at = UTCDateTime(required=True, metadata={"description": "When it was queued, last tried or finished."})
    next_attempt_at = UTCDateTime(
        allow_none=True, required=True, metadata={"description": "When a failed push is tried again; null otherwise."}
    )
    reported_here = fields.Boolean(
        required=True,
        metadata={"description": "The provider reported this address itself (a bounce, complaint or unsubscribe of its own), so "
                  "its list was left alone: done without a request."},
    )  # fmt: skip


class SyncReceiptsSchema(Schema):
    recipient_id = fields.String(required=True)
    targets = fields.Dict(
        keys=fields.String(validate=validate.OneOf(("sendgrid", "mailgun", "postmark", "ses"))),
        values=fields.Nested(SyncReceiptSchema),
        required=True,
        metadata={"description": "Per target of PREFS_SYNC_TARGETS, its latest push about this recipient's email address; "
                  "a target with nothing to push yet is absent."},
    )  # fmt: skip


# --- opt-in, notices and consent records (SPEC §14) --------------------------------------------------------
class SubscriptionEvidenceSchema(StrictSchema):
    """How and when the person consented; kept with the opt-in and shown in their consent record."""

    source = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=500), Pattern(rf"[^{SPACE}]", "Not only white space.")],
        metadata={"description": "How the person consented: e.g. `footer signup form`, `checkout checkbox`."},
    )
    collected_at = ConsentTime()  # left out: the request's time
    notice = TopicKey(
        metadata={"description": "The key of the notice the person saw (`POST /api/v1/notices`): its version current at "
                  "`collected_at` is stored (422 invalid for an unknown key or a time before its first version)."}
    )  # fmt: skip
    url = fields.String(validate=validate.Length(max=2000), metadata={"description": "The page the person consented on."})
    ip = fields.String(validate=validate.Length(max=64), metadata={"description": "The person's IP address (not yours)."})
    user_agent = fields.String(validate=validate.Length(max=512), metadata={"description": "The person's browser."})


class SubscriptionInSchema(OneOfFieldsSchema):
    exactly_one_of = ("recipient_id", "email", "phone")
    # An address is reached on its own channels (email by email, a phone number by sms or phone; else 422 invalid).
    when_given = {
        field: {"properties": {"channel": {"enum": [name for name in CHANNELS if name in channels_reaching(field)]}}}
        for field in ("email", "phone")
    }
    recipient_id = RecipientId(metadata={"description": "A recipient known here (404 not_found otherwise)."})
    email = Email()  # its holder, or a new recipient holding it (id `sub-…`)
    phone = PhoneNumber()
    locale = fields.String(
        validate=Pattern(LOCALE_RE, "Not a valid locale (e.g. en, en-GB, fr_CA)."),
        metadata={"description": "The person's language: stored for a new recipient; the confirmation mail uses the "
                  "stored one, else this one, else English."},
    )  # fmt: skip
    topics = fields.List(
        TopicKey(),
        required=True,
        validate=[validate.Length(min=1, max=50), Distinct()],
        metadata={"description": "Topic keys, each sent on `channel` and not mandatory (else 422 invalid; a topic not in "
                  "the catalogue or archived: 422 unknown_topic)."},
    )  # fmt: skip
    channel = Channel(required=True)
    evidence = fields.Nested(SubscriptionEvidenceSchema, required=True)


class SubscriptionSchema(Schema):
    recipient_id = fields.String(required=True, metadata={"description": "The person's id (`sub-…` when created now)."})
    created = fields.Boolean(required=True, metadata={"description": "Whether this request created the recipient."})
    channel = Channel(required=True)
    subscribed = fields.List(TopicKey(), required=True, metadata={"description": "Topics stored at once (single opt-in)."})
    pending = fields.List(
        TopicKey(), required=True, metadata={"description": "Topics waiting for the person's confirmation (double opt-in): "
                                             "a check answers as before until they confirm."}
    )  # fmt: skip
    expires_at = UTCDateTime(
        required=True, allow_none=True, metadata={"description": "When an unconfirmed request dies; null without one."}
    )


class NoticeInSchema(StrictSchema):
    key = TopicKey(required=True, metadata={"description": "The notice's key, named by `evidence.notice`."})
    text = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=20000), Pattern(rf"[^{SPACE}]", "Not only white space.")],
        metadata={"description": "The wording (stored trimmed)."},
    )
    language = fields.String(
        allow_none=True,
        validate=validate.OneOf(list(LANGUAGES)),
        metadata={"description": f"The wording's language, one of {', '.join(LANGUAGES)}."},
    )


class NoticeSchema(Schema):
    key = fields.String(required=True)
    version = fields.Integer(required=True, metadata={"description": "1 for the first text, then one more per change."})
    text = fields.String(required=True)
    language = fields.String(allow_none=True)
    created_at = UTCDateTime(required=True)
    created_by = fields.String(allow_none=True, metadata={"description": "The API key or staff member that saved it."})


class NoticeSummarySchema(NoticeSchema):
    versions = fields.Integer(required=True, metadata={"description": "How many versions the notice has."})


class NoticeListSchema(Schema):
    notices = fields.List(fields.Nested(NoticeSummarySchema), required=True, metadata={"description": "Current versions."})


class NoticeVersionsSchema(Schema):
    key = fields.String(required=True)
    versions = fields.List(fields.Nested(NoticeSchema), required=True, metadata={"description": "Newest first."})


class RecordedNoticeSchema(Schema):
    key = fields.String(required=True)
    version = fields.Integer(required=True)
    text = fields.String(required=True, metadata={"description": "The wording as it was at collection, never later edits."})
    language = fields.String(allow_none=True)


class ConsentRecordEventSchema(Schema):
    at = UTCDateTime(required=True, metadata={"description": "Given: when collected; confirmed: when confirmed."})
    type = fields.String(required=True, validate=validate.OneOf(("given", "confirmed", "withdrawn", "expired")))
    method = fields.String(
        required=True, metadata={"description": "How: `api`, `confirm_page`, `preference_center`, `one_click`, `console`…"}
    )
    source = fields.String(allow_none=True, metadata={"description": "The evidence's source."})
    ip = fields.String(allow_none=True)
    user_agent = fields.String(allow_none=True)
    actor = fields.String(required=True)
    event_id = fields.Integer(allow_none=True, metadata={"description": "The consent event (null for an expiry)."})


class ConsentRecordSchema(Schema):
    """ISO/IEC TS 27560's consent record, as this service keeps it."""

    record_id = fields.String(required=True, metadata={"description": "Stable for the person, topic and channel."})
    pii_principal_id = fields.String(required=True, metadata={"description": "The recipient's id."})
    controller = fields.String(required=True, metadata={"description": "The brand (PREFS_BRAND_NAME)."})
    purpose = fields.String(required=True, metadata={"description": "The topic's key."})
    purpose_name = fields.String(required=True)
    channel = Channel(required=True)
    state = fields.String(required=True, validate=validate.OneOf(("active", "pending", "withdrawn", "expired")))
    notice = fields.Nested(RecordedNoticeSchema, required=True, allow_none=True)
    language = fields.String(required=True, allow_none=True)
    jurisdiction = fields.String(
        required=True, allow_none=True, metadata={"description": "The postal address's country, when known."}
    )
    withdrawal_method = fields.String(required=True, metadata={"description": "A preference-center link for the person."})
    events = fields.List(fields.Nested(ConsentRecordEventSchema), required=True, metadata={"description": "Oldest first."})


class ConsentRecordListSchema(Schema):
    consents = fields.List(fields.Nested(ConsentRecordSchema), required=True)


# --- hosted subscribe forms (SPEC §14; api/forms.py) -------------------------------------------------------
FORM_TOPICS = (
    "Topic keys (1-20), each sent by email and not mandatory. Every topic on a form is confirmed by the person "
    "(double opt-in, whatever the topic's own `confirmation`): anyone can type anyone's address on a public page."
)
FORM_NOTICE = (
    "The key of a notice (`POST /api/v1/notices`): the page shows its current wording, and each consent keeps "
    "the version that was current when it was given."
)
FORM_TITLE = "The page's heading."
FORM_KEY = "The form's key: its page is `/s/{key}`. Fixed once made."
ONLY_EMAIL = {"description": "Always `email`."}


def FormTopics(**kwargs) -> fields.List:  # noqa: N802
    return fields.List(
        TopicKey(), validate=[validate.Length(min=1, max=20), Distinct()], metadata={"description": FORM_TOPICS}, **kwargs
    )


class FormInSchema(StrictSchema):
    key = TopicKey(required=True, metadata={"description": FORM_KEY})
    title = fields.String(required=True, validate=validate.Length(min=1, max=200), metadata={"description": FORM_TITLE})
    topics = FormTopics(required=True)
    channel = fields.String(load_default="email", validate=validate.OneOf(["email"]), metadata=ONLY_EMAIL)
    notice = TopicKey(required=True, metadata={"description": FORM_NOTICE})
    thanks = fields.String(validate=validate.Length(max=2000), metadata={"description": "Shown after a signup (optional)."})


class FormPatchSchema(StrictSchema):
    key = TopicKey(metadata={"description": "Immutable: accepted only unchanged (else 422 immutable_field)."})
    title = fields.String(validate=validate.Length(min=1, max=200), metadata={"description": FORM_TITLE})
    topics = FormTopics()
    channel = fields.String(validate=validate.OneOf(["email"]), metadata=ONLY_EMAIL)
    notice = TopicKey(metadata={"description": FORM_NOTICE})
    thanks = fields.String(validate=validate.Length(max=2000))


class FormSchema(Schema):
    key = fields.String(required=True)
    title = fields.String(required=True)
    topics = fields.List(fields.String(), required=True)
    channel = fields.String(required=True)
    notice = fields.String(required=True)
    thanks = fields.String(required=True)
    url = fields.String(required=True, metadata={"description": "The form's public page."})
    created_at = UTCDateTime(required=True)
    updated_at = UTCDateTime(required=True)


class FormListSchema(Schema):
    forms = fields.List(fields.Nested(FormSchema), required=True)


# --- insights (issue 19) --------------------------------------------------------------------------------
GROUP_NAMES = "|".join(insights.GROUPS)
# One to five groups, comma-separated; the service refuses an unknown or repeated one (422 invalid_group_by).
GROUP_BY = re.compile(rf"^({GROUP_NAMES})(,({GROUP_NAMES})){{0,{len(insights.GROUPS) - 1}}}$")
MAX_STATS_ROWS = 10_000


class StatsQuerySchema(StrictSchema):
    start = Day(
        data_key="from",
        metadata={
            "description": f"The first day counted (UTC, inclusive). Default: {insights.DEFAULT_RANGE_DAYS - 1} days before `to`."
        },
    )
    end = Day(
        data_key="to",
        metadata={
            "description": f"The last day counted (UTC, inclusive). Default: today, or `from` when that is later. The range covers "
            f"at most {insights.MAX_RANGE_DAYS} days and does not end before it starts (else 422 invalid_range)."
        },
    )
    group_by = fields.String(
        load_default="day",
        metadata={
            "pattern": GROUP_BY.pattern,
            "description": f"What to count by: one or more of {', '.join(insights.GROUPS)}, comma-separated, each once "
            "(else 422 invalid_group_by), e.g. `day,channel`. A row's `key` holds them in this order.",
        },
    )
    order_by = fields.String(
        validate=validate.OneOf(insights.MEASURES),
        metadata={"description": "Rows by this count, largest first (ties by key); by default, rows by key."},
    )
    limit = fields.Integer(
        load_default=MAX_STATS_ROWS,
        validate=validate.Range(min=1, max=MAX_STATS_ROWS),
        metadata={"description": "At most this many rows (the top ones with `order_by`); `totals` counts them all."},
    )


class StatsMeasuresSchema(Schema):
    opt_outs = fields.Integer(required=True, metadata={"description": "Changes that withdrew marketing permission."})
    opt_ins = fields.Integer(required=True, metadata={"description": "Changes that gave it (a confirmed double opt-in once)."})
    suppressions = fields.Integer(
        required=True, metadata={"description": "Addresses added to the suppression list; `via` is their source."}
    )
    bounces = fields.Integer(required=True, metadata={"description": "Hard bounces mail providers reported."})
    complaints = fields.Integer(required=True, metadata={"description": "Spam complaints mail providers reported."})


class StatsRowSchema(StatsMeasuresSchema):
    key = fields.Dict(
        keys=fields.String(),
        values=fields.String(allow_none=True),
        required=True,
        metadata={
            "description": "One entry per group asked for: `day` as YYYY-MM-DD; null for none (no topic; every channel, as "
            "an all-marketing stop; no message id)."
        },
    )


class StatsSchema(Schema):
    start = fields.Date(data_key="from", required=True)
    end = fields.Date(data_key="to", required=True)
    group_by = fields.List(fields.String(validate=validate.OneOf(insights.GROUPS)), required=True)
    rows = fields.List(fields.Nested(StatsRowSchema), required=True)
    truncated = fields.Boolean(
        required=True,
        metadata={
            "description": "True when more rows matched than `limit` and the rest were left off (ask again with a narrower "
            "range or grouping); `totals` counts them all either way."
        },
    )
    totals = fields.Nested(StatsMeasuresSchema, required=True, metadata={"description": "Each count over the whole range."})
    active_recipients = fields.Dict(
        keys=fields.String(validate=validate.OneOf(CHANNELS)),
        values=fields.Integer(),
        required=True,
        metadata={
            "description": "Per channel, the active recipients marketing can reach on it now: holding its address, no stop "
            "of it or of all marketing, the address not suppressed or reported undeliverable (counted again after changes, from every 10 seconds to every 5 minutes as the count's cost allows)."
        },
    )
