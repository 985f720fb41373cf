"""What the API reference says beyond the schemas: the scopes, each way an operation can refuse a request (its
status, code, when it happens and an example), the introduction and the subjects operations are grouped by.

blueprint.py writes them into every operation of /api/v1/openapi.json from what its view declares:
`authorized(scope, body)` (auth.py) for the scope and the refusals of authentication and of the body, and
`refuses(...)` for the codes its services raise. Written for integrators: no internal names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import STATUS_BY_CODE
from ..outages import RETRY_AFTER_SECONDS
from ..services.api_keys import IMPLIED_SCOPES
from .schemas import ErrorSchema

# Redoc's standalone bundle, vendored by scripts/vendor_api_docs.sh (its version and hashes beside it).
REDOC_BUNDLE = "vendor/redoc/redoc.standalone.js"
# The page loads the document and Redoc from this server only; Redoc styles inline and runs its search in a
# worker made from a blob.
REFERENCE_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "font-src 'self' data:; connect-src 'self'; worker-src blob:; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@dataclass(frozen=True)
class Access:
    """What `authorized` enforces: the scope a key must grant, and whether a JSON body is "required",
    "optional" or "none"."""

    scope: str
    body: str


SCOPE_WORDS = {
    "check": "checks, unsubscribe links and the topic list",
    "read": "recipients, their preferences and consent events, exports, the change feed and the insights' counts",
    "write": "everything `read` allows, plus every change to recipients and their preferences (deactivation and erasure included)",
    "admin": "everything: the topic catalogue and webhook endpoints too",
}

SECURITY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": (
        "An API key, sent as `Authorization: Bearer <key>`. The service's operator creates keys "
        "(`flask --app app keys create NAME --scope SCOPE …`); a key is shown once, at creation, and only its "
        "hash is kept. Revoking a key or changing what it may do takes effect within 5 seconds.\n\n"
        "Each key holds scopes:\n\n"
        + "".join(f"- `{scope}`: {what}.\n" for scope, what in SCOPE_WORDS.items())
        + "\nA key has the scopes it was given plus what they include: `write` includes `read`, `admin` includes "
        "everything; `write` does not include `check`, so a mailer that also records changes holds both.\n\n"
        "Each operation names the one scope it needs in its security requirement (`bearerAuth: [scope]`) and in "
        "`x-required-scope`. OpenAPI 3.0 defines scope lists for OAuth 2 only; here the list holds the key's scope. "
        "Without a key, or with an unknown or revoked one, the answer is 401 `unauthorized`; with a key that "
        "lacks the scope, 403 `forbidden`. `GET /api/v1/openapi.json` and this reference need no key."
    ),
}


def scope_sentence(scope: str) -> str:
    """Which keys may call an operation that needs `scope`, in words (Redoc shows no scope of an http scheme)."""
    holders = [f"`{given}`" for given, granted in IMPLIED_SCOPES.items() if scope in granted]
    keys = holders[0] if len(holders) == 1 else f"{', '.join(holders[:-1])} or {holders[-1]}"
    return f"**Scope:** `{scope}` (a key given {keys})."


@dataclass(frozen=True)
class Refusal:
    """One way a request is refused: its code (its status follows from it), when it happens, and the example
    answer shown for it."""

    code: str
    why: str
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> int:
        return STATUS_BY_CODE[self.code]

    def example(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": dict(self.details)}}

    def because(self, why: str, message: str | None = None, details: Mapping[str, Any] | None = None) -> Refusal:
        """This refusal as one operation explains it."""
        return Refusal(self.code, why, message or self.message, self.details if details is None else details)


REFUSALS = {
    refusal.code: refusal
    for refusal in (
        Refusal(
            "bad_request",
            "The body is not JSON, is sent without `Content-Type: application/json`, or is missing where one is required.",
            "Send the body as application/json.",
        ),
        Refusal(
            "unauthorized",
            "No `Authorization: Bearer <key>` header, or the key is unknown or revoked.",
            "Unknown or revoked API key.",
        ),
        Refusal("forbidden", "The key is valid but lacks the scope this operation needs.", "This key lacks the 'write' scope."),
        Refusal("not_found", "Nothing has the id in the path.", "No such recipient."),
        Refusal(
            "address_in_use",
            "The email address or phone number belongs to another recipient; nothing was changed.",
            "This email belongs to another recipient.",
            {"email": ["Already in use."]},
        ),
        Refusal(
            "already_exists",
            "A topic with this key exists already (archived topics keep their keys).",
            "Topic 'newsletter' exists already.",
            {"key": ["Taken."]},
        ),
        Refusal(
            "erased",
            "The recipient was erased; its id cannot be used again.",
            "This recipient was erased; the id cannot be used again.",
        ),
        Refusal(
            "too_large",
            "The body is larger than the service accepts (4 MiB unless its operator set another limit).",
            "The data value transmitted exceeds the capacity limit.",
        ),
        Refusal(
            "invalid",
            "The request breaks its schema or a rule a field's description states; `details` names each field at fault. "
            "Fix the request before sending it again.",
            "Invalid input.",
            {"colour": ["Unknown field."]},
        ),
        Refusal(
            "unknown_topic",
            "The topic key is not in the catalogue (`GET /api/v1/topics` lists it).",
            "No topic 'newsleter'.",
            {"topic": ["Unknown topic 'newsleter'."]},
        ),
        Refusal(
            "mandatory_topic",
            "The topic is mandatory (service and billing messages): it cannot be unsubscribed from.",
            "The topic 'Billing' is mandatory: it stays on while the account is active.",
            {"changes": {"0": {"topic": ["Mandatory topic."]}}},
        ),
        Refusal(
            "immutable_field",
            "`key` and `mandatory` are fixed when a topic is created; they are accepted only unchanged.",
            "A topic's mandatory is fixed at creation.",
            {"mandatory": ["Cannot change."]},
        ),
        Refusal(
            "sms_stop",
            "The number texted STOP: no opt-in through the API lifts that, only START texted from the number itself.",
            "This number replied STOP; only START from it turns texts back on.",
            {"changes": {"0": {"channel": ["SMS stop in force."]}}},
        ),
        Refusal(
            "unavailable",
            f"The service cannot reach its database just now; nothing was changed. Try again after the `Retry-After` "
            f"seconds ({RETRY_AFTER_SECONDS}).",
            "The service can't reach its database just now; try again in a minute.",
        ),
    )
}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "example": RETRY_AFTER_SECONDS},
    }
}


# Any request, even one with no input of its own, is refused when its text holds what no database stores.
UNSTORABLE = REFUSALS["invalid"].because(
    "Text in the request (its query string included) holds a NUL (U+0000) or half of a UTF-16 surrogate pair.",
    "Text may not contain NUL characters.",
    {"_schema": ["Text may not contain NUL characters."]},
)


def refusals_of(access: Access, reads_input: bool, declared: Mapping[str, Refusal]) -> list[Refusal]:
    """Every refusal of an operation: authentication's, the body's and the input's (from what `authorized`
    and flask-smorest know of the view), the ones its view declares, and the database being out of reach."""
    codes = ["unauthorized", "forbidden"]
    if access.body != "none":
        codes += ["bad_request", "too_large"]
    codes += ["invalid", *declared, "unavailable"]
    defaults = {**REFUSALS, "invalid": REFUSALS["invalid"] if reads_input else UNSTORABLE}
    return [declared.get(code) or defaults[code] for code in dict.fromkeys(codes)]


def error_responses(refusals: Iterable[Refusal]) -> dict[str, dict[str, Any]]:
    """One response per status: its codes, in words and as an `enum` of the error's code, with an example each."""
    by_status: dict[int, list[Refusal]] = {}
    for refusal in refusals:
        by_status.setdefault(refusal.status, []).append(refusal)
    return {str(status): _error_response(group) for status, group in sorted(by_status.items())}


def _error_response(refusals: list[Refusal]) -> dict[str, Any]:
    codes = [refusal.code for refusal in refusals]
    response: dict[str, Any] = {
        "description": "\n".join(f"- `{refusal.code}`: {refusal.why}" for refusal in refusals),
        "x-error-codes": codes,
        "content": {
            "application/json": {
                "schema": {
                    "allOf": [
                        ErrorSchema,
                        {
                            "type": "object",
                            "properties": {
                                "error": {"type": "object", "properties": {"code": {"type": "string", "enum": codes}}}
                            },
                        },
                    ]
                },
                "examples": {refusal.code: {"summary": refusal.code, "value": refusal.example()} for refusal in refusals},
            }
        },
    }
    if "unavailable" in codes:
        response["headers"] = RETRY_AFTER
    return response


def other_error_response() -> dict[str, Any]:
    """Anything not listed for an operation: a method the path does not take, or a fault of the service."""
    return {
        "description": (
            "Any other answer, in the same shape: 405 `method_not_allowed` for a method the path does not take "
            "(the `Allow` header lists those it does); 500 `internal_error` would be a fault of the service, "
            "after which nothing was changed."
        ),
        "content": {
            "application/json": {
                "schema": ErrorSchema,
                "example": {
                    "error": {
                        "code": "internal_error",
                        "message": "Something went wrong on our side; nothing was changed.",
                        "details": {},
                    }
                },
            }
        },
    }


TAGS = [
    {
        "name": "Checks",
        "description": "Ask before every send: may this topic go to this person on this channel? Send only when "
        "`allowed` is true; `reason` says why.",
    },
    {
        "name": "Links",
        "description": "The unsubscribe and preference-center links, and the `List-Unsubscribe` headers, for each "
        "marketing message.",
    },
    {
        "name": "Recipients",
        "description": "Tell the service who a person is (your own id, email, phone, postal address), find people "
        "by address, export what is held about them, deactivate, reactivate and erase them.",
    },
    {
        "name": "Preferences",
        "description": "What a person gets on which channel and why, and changes made on their behalf (by your "
        "support staff, a signup form, a checkout checkbox).",
    },
    {
        "name": "Consent events",
        "description": "Every change of consent, append-only: one person's history, and the change feed for "
        "keeping other systems (an email provider's suppression list, a CRM) in step.",
    },
    {
        "name": "Subscriptions and consent",
        "description": "The way in: subscribe a person with evidence of consent (single or double opt-in), the notices "
        "people see when they consent, kept versioned, and each person's consent records as proof.",
    },
    {
        "name": "Insights",
        "description": "Counts over every change of consent: opt-outs and opt-ins by day, topic, channel, way and "
        "campaign, suppressions added, bounces, complaints, and how many people marketing can reach on each channel.",
    },
    {"name": "Topics", "description": "The catalogue of what you send. Reading it needs `check`; changing it, `admin`."},
    {
        "name": "Webhooks",
        "description": "Endpoints the service POSTs each change to, signed the Standard Webhooks way "
        "(`webhook-id`, `webhook-timestamp`, `webhook-signature`). Managing them needs `admin`.",
    },
]

INTRODUCTION = f"""\
Marketing-communications preferences and opt-outs: which topics each person wants on which channel (email, sms,
phone, post). Mandatory service and billing messages stay on while the account is active.

**How a mailer uses it**

1. Keep the service told who people are: `PUT /api/v1/recipients/{{recipient_id}}` with your own id for them.
2. Before every send, ask: `POST /api/v1/check` for one message, `POST /api/v1/check/batch` for up to 10,000.
   Send only when `allowed` is true.
3. Put the links of `POST /api/v1/links` (or `include_links` in a batch) into every marketing message, and its
   `List-Unsubscribe` headers as they are (RFC 8058 one-click unsubscribe).
4. Follow changes made elsewhere (a one-click unsubscribe, a STOP text): the change feed `GET /api/v1/events`, or
   a webhook endpoint.

**Errors** always have the shape `{{"error": {{"code": "...", "message": "...", "details": {{...}}}}}}`. Each
operation lists its refusals by status, with the codes each can carry and when; build on `code`, never on the
message. A request that breaks its schema is 422 `invalid`, with each field at fault in `details`. No text
anywhere in a request may contain U+0000 (NUL) or half of a UTF-16 surrogate pair (422 `invalid`): no database
stores them. In a batch check, an item holding one is that item's `invalid` answer, as any malformed item. When the database cannot be reached every operation answers 503 `unavailable` with `Retry-After:
{RETRY_AFTER_SECONDS}`; nothing was changed, so the same request can be sent again.

**Times** are RFC 3339 in UTC (`2026-11-30T09:15:02.518842+00:00`). **Lists** come in an object named after what
they hold (`{{"topics": [...]}}`).
"""
