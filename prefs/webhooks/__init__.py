"""Inbound channels: SMS keywords (Twilio) and mailto unsubscribes (an inbound-mail webhook)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
