"""GET /: names the brand, links its privacy notice and contact, and points integrators to the API reference;
/.well-known/gpc.json: this site honours Global Privacy Control (SPEC §16)."""

from __future__ import annotations

from flask import jsonify, render_template

from . import bp

GPC_SUPPORT_SINCE = "2026-11-30"  # the date this service began honouring the signal (the spec's lastUpdate)


@bp.get("/")
def home():
    return render_template("pages/home.html")


@bp.get("/.well-known/gpc.json")
def gpc_support():
    """The GPC specification's support resource: a preference-center view carrying `Sec-GPC: 1` records the
    person's "do not sell or share" opt-out."""
    response = jsonify(gpc=True, lastUpdate=GPC_SUPPORT_SINCE)
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
