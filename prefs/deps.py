"""What services depend on besides the database session: settings parsed once and caches per process.

The app factory builds one `Deps` (prefs/runtime.py) and the wings hand it to the services that need it;
services never look it up themselves, so they run the same under Flask, the CLI, a worker or a test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .db.generations import CacheGenerations
from .db.write_gate import FileWriteGate
from .decision import QuietHours
from .outbound.smtp import MailSettings
from .passwords import PasswordHasher
from .suppression import AddressHasher
from .tokens import LinkSigner

if TYPE_CHECKING:
    from .catalogue import TopicCatalogue
    from .services.api_keys import ApiKeyCache
    from .services.delivery import DeliverySettings


@dataclass
class Deps:
    catalogue: TopicCatalogue
    api_keys: ApiKeyCache
    address_hash: AddressHasher
    phone_region: str
    signer: LinkSigner
    secret_keys: list[str]
    base_url: str
    unsubscribe_mailto: str | None
    link_max_age_days: int
    write_gate: FileWriteGate | None
    password_hasher: PasswordHasher
    webhook_allow_hosts: frozenset[str]  # hosts webhooks may reach although private (PREFS_WEBHOOK_ALLOW_HOSTS)
    delivery: DeliverySettings
    quiet_hours: QuietHours | None  # PREFS_QUIET_HOURS, parsed once (None: off)
    generations: CacheGenerations  # tells the caches above of changes made by other processes and nodes
    mail: MailSettings | None = None  # PREFS_SMTP_URL and PREFS_MAIL_FROM, parsed once (None: mail is off)
