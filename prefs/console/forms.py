"""The console's forms: what each accepts, as WTForms classes. Templates render them; views read `.data`.

CSRF is not checked here: CSRFProtect checks every console POST before a view runs (prefs/extensions.py).
"""

from __future__ import annotations

from datetime import UTC

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    HiddenField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from ..channels import CHANNEL_WORDS, CHANNELS
from ..languages import DEFAULT, LANGUAGES, NATIVE_NAMES
from ..services.api_keys import SCOPES
from ..services.consent import consent_time_problem
from ..services.staff import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, ROLES

CHANNEL_CHOICES = [SelectChoice(channel, CHANNEL_WORDS[channel].capitalize()) for channel in CHANNELS]
REASON_REQUIRED = "Give a reason for this change."


def strip(value):
    return value.strip() if isinstance(value, str) else value


class ConsoleForm(FlaskForm):
    class Meta:
        csrf = False  # CSRFProtect has checked the token already, for every console POST


def reason_field(label: str = "Reason for the change") -> TextAreaField:
    return TextAreaField(label, filters=[strip], validators=[DataRequired(REASON_REQUIRED), Length(max=1000)])


def possible_consent_time(_form, field) -> None:
    problem = field.data and consent_time_problem(field.data)  # the form's time is UTC, as its label says
    if problem:
        raise ValidationError(problem)


class EvidenceFields:
    """When and how the person consented: what lifting a suppression needs (SPEC §2)."""

    collected_at = DateTimeLocalField("When the person consented (UTC)", validators=[Optional(), possible_consent_time])
    source = StringField("How they consented", filters=[strip], validators=[Optional(), Length(max=200)])

    def evidence(self) -> dict[str, str] | None:
        if not self.collected_at.data or not self.source.data:
            return None
        collected = self.collected_at.data.replace(tzinfo=UTC).isoformat()
        return {"collected_at": collected, "source": self.source.data}


class LoginForm(ConsoleForm):
    email = StringField("Email", filters=[strip], validators=[DataRequired("Enter your email."), Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired("Enter your password."), Length(max=MAX_PASSWORD_LENGTH)])


class ChoicesForm(EvidenceFields, ConsoleForm):
    """The topic:channel boxes are read by prefs.services.preference_form.changes_from_form; this holds the rest."""

    reason = reason_field()


class ContactForm(ConsoleForm):
    email = StringField("Email", filters=[strip], validators=[Length(max=320)])
    phone = StringField("Phone", filters=[strip], validators=[Length(max=64)])
    lines = TextAreaField("Postal address lines (one a line)", filters=[strip], validators=[Length(max=1100)])
    city = StringField("City", filters=[strip], validators=[Length(max=100)])
    region = StringField("Region or state", filters=[strip], validators=[Length(max=100)])
    postal_code = StringField("Postal code", filters=[strip], validators=[Length(max=100)])
    country = StringField("Country (two letters, e.g. US)", filters=[strip], validators=[Length(max=2)])
    locale = StringField("Locale (e.g. en-US)", filters=[strip], validators=[Length(max=35)])
    time_zone = StringField("Time zone (e.g. America/New_York)", filters=[strip], validators=[Length(max=64)])
    reason = reason_field("Reason for the contact change")


class StatusForm(ConsoleForm):
    reason = reason_field("Reason for the account change")


class ClearUndeliverableForm(ConsoleForm):
    reason = reason_field("Why the address works again")


class LiftSuppressionForm(EvidenceFields, ConsoleForm):
    q = HiddenField()
    collected_at = DateTimeLocalField(
        "When the person consented (UTC)", validators=[InputRequired("Say when the person consented."), possible_consent_time]
    )
    source = StringField(
        "How they consented", filters=[strip], validators=[DataRequired("Say how the person consented."), Length(max=200)]
    )
    reason = reason_field("Reason for lifting it")


class TopicEditForm(ConsoleForm):
    name = StringField("Name", filters=[strip], validators=[DataRequired("Give the topic a name."), Length(max=200)])
    description = TextAreaField("Description", filters=[strip], validators=[Length(max=2000)])
    channels = SelectMultipleField("Sent on", choices=CHANNEL_CHOICES, validate_choice=True)
    default_on = SelectMultipleField("On by default (until the person says no)", choices=CHANNEL_CHOICES, validate_choice=True)
    # SPEC §14, as the API's `confirmation`; services/topics.py refuses double where it cannot apply.
    confirmation = SelectField(
        "Opt-in by email",
        choices=[
            SelectChoice("single", "Single: an opt-in is stored at once"),
            SelectChoice("double", "Double: stored once the person confirms a link mailed to them"),
        ],
        default="single",
        validate_choice=True,
    )


# The topic's name and description in the recipient pages' other languages (API `names`, `descriptions`):
# fields name_es, description_es, name_pt_BR… ; an empty one means "use the English".
TRANSLATED_LANGUAGES = [tag for tag in LANGUAGES if tag != DEFAULT]


def translation_field_name(kind: str, tag: str) -> str:
    return f"{kind}_{tag.replace('-', '_')}"


for _tag in TRANSLATED_LANGUAGES:
    setattr(
        TopicEditForm,
        translation_field_name("name", _tag),
        StringField(f"Name in {NATIVE_NAMES[_tag]} ({_tag})", filters=[strip], validators=[Length(max=200)]),
    )
    setattr(
        TopicEditForm,
        translation_field_name("description", _tag),
        TextAreaField(f"Description in {NATIVE_NAMES[_tag]} ({_tag})", filters=[strip], validators=[Length(max=2000)]),
    )


class TopicCreateForm(TopicEditForm):
    key = StringField("Key", filters=[strip], validators=[DataRequired("Give the topic a key."), Length(max=64)])
    mandatory = BooleanField("Mandatory (service or billing: nobody can switch it off; fixed for good)")


class ApiKeyForm(ConsoleForm):
    name = StringField("Name", filters=[strip], validators=[DataRequired("Name the key."), Length(max=64)])
    scopes = SelectMultipleField("Scopes", choices=[SelectChoice(scope) for scope in SCOPES], validate_choice=True)


class StaffForm(ConsoleForm):
    email = StringField("Email", filters=[strip], validators=[DataRequired("Enter an email."), Length(max=320)])
    role = SelectField("Role", choices=[SelectChoice(role, role.capitalize()) for role in ROLES], validate_choice=True)
    password = PasswordField(
        f"Password (at least {MIN_PASSWORD_LENGTH} characters)",
        validators=[DataRequired("Enter a password."), Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH)],
    )


class PasswordResetForm(ConsoleForm):
    password = PasswordField(
        f"New password (at least {MIN_PASSWORD_LENGTH} characters)",
        validators=[DataRequired("Enter a password."), Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH)],
    )


class EraseForm(ConsoleForm):
    confirm = StringField(
        "Type the recipient id to confirm", filters=[strip], validators=[DataRequired("Type the recipient id.")]
    )
    reason = reason_field("Reason for the erasure")


def attach_errors(form: FlaskForm, details: dict) -> None:
    """Put a PrefsError's field errors on the form's inputs of the same name."""
    for name, messages in details.items():
        if name in form:
            flat = messages if isinstance(messages, list) else [m for ms in dict(messages).values() for m in ms]
            form[name].errors = [str(message) for message in flat]
