"""The contact-data form: what the page showed, what the agent changed, and where an error belongs.

Pure. Like the choices form, the page sends back what it showed (hidden `shown-<field>` inputs), and only
fields the agent changed are written: a field someone else changed meanwhile is not put back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

POSTAL_INPUTS = ("lines", "city", "region", "postal_code", "country")
CONTACT_INPUTS = ("email", "phone", *POSTAL_INPUTS, "locale", "time_zone")
SHOWN_PREFIX = "shown-"


def contact_values(
    email: str | None,
    phone: str | None,
    postal_address: Mapping[str, Any] | None,
    locale: str | None,
    time_zone: str | None = None,
) -> dict[str, str]:
    """The stored contact data as the form's text inputs show it."""
    postal = postal_address or {}
    values = {"email": email or "", "phone": phone or "", "locale": locale or "", "time_zone": time_zone or ""}
    values["lines"] = "\n".join(postal.get("lines", []))
    for name in POSTAL_INPUTS[1:]:
        values[name] = postal.get(name) or ""
    return values


def _clean(name: str, value: str | None) -> str:
    text = (value or "").strip()
    if name == "lines":
        return "\n".join(line.strip() for line in text.splitlines() if line.strip())
    return text


def shown_values(form: Mapping[str, str], current: Mapping[str, str]) -> dict[str, str]:
    """What the page showed, from its hidden inputs; the current values stand in for any missing."""
    return {name: form.get(SHOWN_PREFIX + name, current[name]) for name in CONTACT_INPUTS}


def contact_changes(submitted: Mapping[str, str | None], shown: Mapping[str, str]) -> dict[str, Any]:
    """The fields to write, in the API's shape (None clears one): those whose input differs from what was shown."""
    changed = {name for name in CONTACT_INPUTS if _clean(name, submitted.get(name)) != _clean(name, shown.get(name))}
    given: dict[str, Any] = {}
    for name in ("email", "phone", "locale", "time_zone"):
        if name in changed:
            given[name] = _clean(name, submitted.get(name)) or None
    if changed & set(POSTAL_INPUTS):
        postal = {name: _clean(name, submitted.get(name)) for name in POSTAL_INPUTS}
        if not any(postal.values()):
            given["postal_address"] = None
        else:
            address: dict[str, Any] = {"lines": postal["lines"].split("\n") if postal["lines"] else []}
            address.update({name: postal[name] for name in POSTAL_INPUTS[1:] if postal[name]})
            given["postal_address"] = address
    return given


def field_errors(details: Mapping[str, Any]) -> dict[str, list[str]]:
    """A PrefsError's details as errors per form input (a postal address's errors go to its parts)."""
    errors: dict[str, list[str]] = {}
    for name, messages in details.items():
        if name == "postal_address" and isinstance(messages, Mapping):
            for part, part_messages in messages.items():
                errors[part if part in POSTAL_INPUTS else "lines"] = [str(m) for m in part_messages]
        elif name == "postal_address":
            errors["lines"] = [str(m) for m in messages]
        elif isinstance(messages, list):
            errors[name] = [str(m) for m in messages]
    return errors
