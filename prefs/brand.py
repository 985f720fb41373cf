"""Whose pages these are (SPEC §16): the brand's name, logo, colour, privacy notice and contact, checked once
at start. Pure.

The colour becomes the pages' accent (buttons with white text, links on white), so it must keep a contrast
of at least 4.5:1 against white (WCAG AA for text); a lighter colour is refused at start rather than making
every page fail for people with low vision. The logo is an https URL or a path on this host; its origin is
added to the pages' Content-Security-Policy `img-src`, and nothing else is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_COLOR = "#0b5394"
MIN_CONTRAST = 4.5
_COLOR = re.compile(r"#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_EMAIL = re.compile(r"[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+")


@dataclass(frozen=True, slots=True)
class Brand:
    name: str
    color: str = DEFAULT_COLOR
    logo_url: str | None = None
    privacy_url: str | None = None
    contact_url: str | None = None  # an https URL, or mailto: for an address
    contact_text: str | None = None  # the address or the URL as shown

    @property
    def logo_origin(self) -> str | None:
        """The origin the pages' CSP must allow images from (None: this host, or no logo)."""
        if not self.logo_url or self.logo_url.startswith("/"):
            return None
        parts = urlsplit(self.logo_url)
        return f"{parts.scheme}://{parts.netloc}"


def parse_brand(name: str, color: str | None, logo_url: str | None, privacy_url: str | None, contact: str | None) -> Brand:
    """Raises ValueError naming the setting at fault."""
    name = name.strip()
    if not name or len(name) > 80:
        raise ValueError("PREFS_BRAND_NAME must be 1 to 80 characters")
    color = (color or DEFAULT_COLOR).strip()
    if not _COLOR.fullmatch(color):
        raise ValueError("PREFS_BRAND_COLOR must be a hex colour such as #0b5394")
    if len(color) == 4:
        color = "#" + "".join(ch * 2 for ch in color[1:])
    if contrast_with_white(color) < MIN_CONTRAST:
        raise ValueError(
            f"PREFS_BRAND_COLOR {color} is too light: buttons and links need a contrast of {MIN_CONTRAST}:1 with white "
            f"(it has {contrast_with_white(color):.2f}:1); pick a darker shade"
        )
    if logo_url and not (_https_url(logo_url) or (logo_url.startswith("/") and not logo_url.startswith("//"))):
        raise ValueError("PREFS_BRAND_LOGO_URL must be an https:// URL or a path on this host such as /static/logo.png")
    if privacy_url and not _https_url(privacy_url, allow_http=True):
        raise ValueError("PREFS_PRIVACY_URL must be an http(s):// URL")
    contact_url = contact_text = None
    if contact:
        contact = contact.strip()
        if _EMAIL.fullmatch(contact):
            contact_url, contact_text = f"mailto:{contact}", contact
        elif _https_url(contact, allow_http=True):
            contact_url, contact_text = contact, urlsplit(contact).netloc + urlsplit(contact).path.rstrip("/")
        else:
            raise ValueError("PREFS_CONTACT must be an email address or an http(s):// URL")
    return Brand(name, color.lower(), logo_url or None, privacy_url or None, contact_url, contact_text)


def _https_url(value: str, allow_http: bool = False) -> bool:
    parts = urlsplit(value.strip())
    schemes = ("https", "http") if allow_http else ("https",)
    return parts.scheme in schemes and bool(parts.netloc) and not any(ch in value for ch in " \"'<>\\")


def contrast_with_white(color: str) -> float:
    """WCAG 2 contrast ratio of a #rrggbb colour against white."""

    def channel(hex_pair: str) -> float:
        value = int(hex_pair, 16) / 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(color[i : i + 2]) for i in (1, 3, 5))
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    return 1.05 / (luminance + 0.05)
