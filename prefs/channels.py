"""The channels and the addresses they reach: the only place that knows their facts (SPEC §2, §11).

Everything else asks here: the API's enum, the decision rule's SMS row, quiet hours and do-not-call rows,
masking, suppression kinds, the words on pages and in the console, the mailto codes. Adding a channel is one
entry in CHANNEL_LIST (plus a migration when it needs an address the recipients table does not have yet).
Pure: no Flask.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .addresses import mask_email, mask_phone, mask_postal


@dataclass(frozen=True, slots=True)
class Address:
    """A kind of contact address a recipient holds, in a column of its own."""

    field: str  # the recipient's column, and the name of the field in the API
    words: str  # "phone number"
    mask: Callable[[Any], str | None]  # what a page or the matrix may show of it
    suppressible: bool  # kept on the suppression list as a keyed hash of kind `field`


@dataclass(frozen=True, slots=True)
class Channel:
    name: str  # public API value
    words: str  # "text message": "Newsletter by text message"
    plural: str  # "text messages": "to get text messages from us again"
    address: Address
    mailto_code: int  # in mailto references (tokens.py): never reuse or renumber one
    # A stop keyword texted from the number stops everything on this channel, mandatory included (rule 7).
    keyword_stop: bool = False
    # Switching it on through a link needs a link sent on this channel (express consent for texts).
    opt_in_by_own_link_only: bool = False
    # Marketing on it keeps to the person's local daytime (PREFS_QUIET_HOURS; TCPA calls and texts, SPEC §17).
    time_restricted: bool = False
    # Marketing on it is refused to numbers on the do-not-call list (SPEC §17). Only a channel reaching the
    # phone number can be, since the list holds numbers.
    do_not_call: bool = False


EMAIL = Address("email", "email address", mask_email, suppressible=True)
PHONE = Address("phone", "phone number", mask_phone, suppressible=True)
POSTAL = Address("postal_address", "postal address", mask_postal, suppressible=False)

CHANNEL_LIST: list[Channel] = [
    Channel("email", "email", "emails", EMAIL, mailto_code=0),
    Channel(
        "sms",
        "text message",
        "text messages",
        PHONE,
        mailto_code=1,
        keyword_stop=True,
        opt_in_by_own_link_only=True,
        time_restricted=True,
        do_not_call=True,
    ),
    Channel("phone", "phone call", "phone calls", PHONE, mailto_code=2, time_restricted=True, do_not_call=True),
    Channel("post", "post", "post", POSTAL, mailto_code=3),
]


def _index() -> None:
    """Derived look-ups, rebuilt when the list changes (only tests add to it: see register)."""
    global REGISTRY, CHANNELS, CHANNEL_WORDS, ADDRESSES, SUPPRESSIBLE, KEYWORD_STOPPED, TIME_RESTRICTED, DO_NOT_CALL
    REGISTRY = {channel.name: channel for channel in CHANNEL_LIST}
    CHANNELS = tuple(REGISTRY)
    CHANNEL_WORDS = {channel.name: channel.words for channel in CHANNEL_LIST}
    ADDRESSES = tuple({channel.address.field: channel.address for channel in CHANNEL_LIST}.values())
    SUPPRESSIBLE = tuple(address for address in ADDRESSES if address.suppressible)
    KEYWORD_STOPPED = frozenset(channel.name for channel in CHANNEL_LIST if channel.keyword_stop)
    TIME_RESTRICTED = frozenset(channel.name for channel in CHANNEL_LIST if channel.time_restricted)
    DO_NOT_CALL = frozenset(channel.name for channel in CHANNEL_LIST if channel.do_not_call)


REGISTRY: dict[str, Channel]
CHANNELS: tuple[str, ...]  # in the order pages, the matrix and the API list them
CHANNEL_WORDS: dict[str, str]  # name -> words, for templates
ADDRESSES: tuple[Address, ...]
SUPPRESSIBLE: tuple[Address, ...]
KEYWORD_STOPPED: frozenset[str]
TIME_RESTRICTED: frozenset[str]  # marketing only inside the person's local daytime
DO_NOT_CALL: frozenset[str]  # marketing refused to numbers on the do-not-call list
_index()


def suppression_kind(name: str) -> str | None:
    """The suppression hash kind of a channel's address; None when its address is never suppressed."""
    address = REGISTRY[name].address
    return address.field if address.suppressible else None


def channels_reaching(field: str) -> frozenset[str]:
    """The channels whose address is in `field`."""
    return frozenset(channel.name for channel in CHANNEL_LIST if channel.address.field == field)


def register(extra: Channel) -> None:
    """Add a channel before the app is built. For the test suite's fifth channel only (no production
    channel is added this way): modules that bound CHANNELS at import must be imported after this."""
    if extra.name in REGISTRY or any(c.mailto_code == extra.mailto_code for c in CHANNEL_LIST):
        raise ValueError(f"channel {extra.name!r} or its mailto code is taken")
    if extra.do_not_call and extra.address is not PHONE:
        raise ValueError(f"channel {extra.name!r}: the do-not-call list holds phone numbers only")
    CHANNEL_LIST.append(extra)
    _index()
