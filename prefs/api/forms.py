"""Hosted subscribe forms over the API (SPEC §14), `admin` scope: the forms prefs serves at /s/<key>."""

from __future__ import annotations

from ..db.transactions import unit_of_work
from ..runtime import runtime
from ..services.forms import create_form, delete_form, form_to_dict, get_form, list_forms, update_form
from . import examples
from .auth import actor_name, authorized
from .blueprint import blp, refuses
from .reference import REFUSALS
from .schemas import FormInSchema, FormListSchema, FormPatchSchema, FormSchema

NO_FORM = "No form has this key."
UNKNOWN_TOPIC = REFUSALS["unknown_topic"].because(
    "A topic key is not in the catalogue, or is archived.", "No topic 'newsleter'.", {"topics": {"0": ["Unknown topic."]}}
)
TAKEN = REFUSALS["already_exists"].because(
    "A form with this key exists already.", "Form 'product-news' exists already.", {"key": ["Taken."]}
)
KEY_FIXED = REFUSALS["immutable_field"].because(
    "`key` is fixed when a form is made; it is accepted only unchanged.",
    "A form's key is fixed when it is made.",
    {"key": ["Cannot change."]},
)


def _shown(form) -> dict:
    return form_to_dict(form, runtime().base_url)


@blp.route("/forms", methods=["GET"], tags=["Subscriptions and consent"])
@authorized("admin")
@blp.response(200, FormListSchema, description="Every form.", example=examples.FORM_LIST)
def forms():
    """List subscribe forms

    Every hosted subscribe form, by key, with its public page's URL.
    """
    return {"forms": [_shown(form) for form in list_forms()]}


@blp.route("/forms", methods=["POST"], tags=["Subscriptions and consent"])
@authorized("admin", body="required")
@refuses(already_exists=TAKEN, unknown_topic=UNKNOWN_TOPIC)
@blp.arguments(FormInSchema, example=examples.FORM_IN)
@blp.response(201, FormSchema, description="The form, made; its page is live at `url`.", example=examples.FORM)
def post_form(fields):
    """Create a subscribe form

    A signup page this service hosts at `/s/{key}`: a title, the notice's current wording, one field for an
    email address. Whatever address is typed, the visitor sees the same page; the address is mailed a
    confirmation link for the form's topics, and nothing is stored as an opt-in until the person confirms it
    (double opt-in for every topic on a form: anyone can type anyone's address on a public page). The page
    has a honeypot field, a CSRF token and per-IP and per-address limits. The evidence kept is the source
    `hosted_form:{key}`, the notice and its version, the page's URL, IP and user agent. Without outbound
    email configured the page says signups are unavailable.
    """
    return _shown(unit_of_work(lambda: create_form(runtime(), fields, "api", actor_name()), conflict="already_exists")), 201


@blp.route("/forms/<string:key>", methods=["GET"], tags=["Subscriptions and consent"])
@authorized("admin")
@refuses(not_found=NO_FORM)
@blp.response(200, FormSchema, description="The form.", example=examples.FORM)
def form(key):
    """Get a subscribe form

    One form: its title, topics, notice, thank-you text and public URL.
    """
    return _shown(get_form(key))


@blp.route("/forms/<string:key>", methods=["PATCH"], tags=["Subscriptions and consent"])
@authorized("admin", body="required")
@refuses(not_found=NO_FORM, immutable_field=KEY_FIXED, unknown_topic=UNKNOWN_TOPIC)
@blp.arguments(FormPatchSchema, example=examples.FORM_PATCH)
@blp.response(200, FormSchema, description="The form as it is now.", example=examples.FORM_PATCHED)
def patch_form(fields, key):
    """Change a subscribe form

    Change its title, topics, notice or thank-you text; fields left out stay as they are. Requests already
    mailed keep the topics and notice they were made with.
    """
    return _shown(unit_of_work(lambda: update_form(runtime(), key, fields, "api", actor_name())))


@blp.route("/forms/<string:key>", methods=["DELETE"], tags=["Subscriptions and consent"])
@authorized("admin", body="optional")
@refuses(not_found=NO_FORM)
@blp.response(204, description="Deleted: its page answers 404.")
def remove_form(key):
    """Delete a subscribe form

    Its page is gone. Confirmation links already mailed from it still work, and the consents it collected
    keep their evidence.
    """
    unit_of_work(lambda: delete_form(key, "api", actor_name()))
    return ""
