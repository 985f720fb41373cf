"""Recipient pages: /u (unsubscribe: confirm, one-click, undo), /p (preference center, "email me my link"),
/c (confirming a double opt-in), /s (hosted subscribe forms), the home page and what a browser asks of any
site (/.well-known/gpc.json, the brand's stylesheet).

A GET never changes anything (mail scanners open every link), with one exception the law asks for: a
preference-center view sent with Global Privacy Control records that opt-out (SPEC §16). These pages set
no cookie (but a subscribe form, for its CSRF token: pages/forms.py) and need no JavaScript; every /u and /p response carries the headers of SPEC §5. Every page is
in the person's language (prefs/i18n.py) and names the brand (prefs/brand.py).
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("pages", __name__)

from . import common, confirm, forms, home, preferences, unsubscribe  # noqa: E402,F401  (the views register on bp)
