"""The friendly pages a person sees for an address that is not there (404) or a method a page does not take
(405), outside the API (which answers its JSON error shape) and the console's own pages. In the visitor's
language, with the brand, saying nothing about what exists (SPEC §16)."""

from __future__ import annotations

from flask import render_template
from werkzeug.exceptions import HTTPException

from .i18n import lazy_gettext as _l

FRIENDLY = {
    404: (
        _l("We can't find that page"),
        _l("The address may be mistyped, or the page is no longer here. Links in our messages lead to your preferences."),
    ),
    405: (
        _l("That didn't work"),
        _l("This page can't be used that way. Go back and try again, or use the link in one of our messages."),
    ),
}


def html_error_page(error: HTTPException):
    """A friendly page for 404 and 405, the 405 keeping its Allow header; any other error as it is."""
    if error.code not in FRIENDLY:
        return error
    title, message = FRIENDLY[error.code]
    valid_methods = getattr(error, "valid_methods", None)
    headers = {"Allow": ", ".join(valid_methods)} if valid_methods else {}
    return render_template("pages/message.html", title=title, message=message), error.code, headers
