"""Staff passwords, hashed and checked: scrypt in werkzeug's self-describing format (`scrypt:n:r:p$salt$hash`),
so a stored hash names its own parameters. The one module that knows the hashing library: services ask here.

The factory builds one `PasswordHasher` (prefs/runtime.py) and the wings hand it to the staff service. It has
the full cost in every deployment; only a test app may make it cheap."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from werkzeug.security import check_password_hash, generate_password_hash

METHOD = "scrypt"  # werkzeug's cost: N=2**15, r=8, p=1 (about 0.1 s and 32 MB a hash)
CHEAP_METHOD = "scrypt:1024:8:1"  # test apps only: a thirty-second of the work, still an scrypt hash


@dataclass(frozen=True)
class PasswordHasher:
    """Hashes new passwords with `method`; a stored hash is checked at the cost it names."""

    method: str = METHOD

    @classmethod
    def for_settings(cls, config: Mapping[str, Any]) -> PasswordHasher:
        """Full cost, unless a test app (TESTING) asks for PREFS_TEST_CHEAP_PASSWORD_HASHING. No deployment can
        weaken it: the setting is never read from the environment, and TESTING is off outside the tests."""
        cheap = config.get("TESTING") is True and config.get("PREFS_TEST_CHEAP_PASSWORD_HASHING") is True
        return cls(CHEAP_METHOD if cheap else METHOD)

    def hash(self, password: str) -> str:
        return generate_password_hash(password, method=self.method)

    def matches(self, stored_hash: str, password: str) -> bool:
        return check_password_hash(stored_hash, password)

    def match_nothing(self, password: str) -> None:
        """Costs what checking a password of this hasher's own costs: an unknown account answers as slowly."""
        check_password_hash(_hash_of_no_account(self.method), password)


FULL_COST = PasswordHasher()


@cache
def _hash_of_no_account(method: str) -> str:
    return PasswordHasher(method).hash("no account has this password")
