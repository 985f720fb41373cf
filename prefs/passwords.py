"""Staff passwords, hashed and checked: scrypt in werkzeug's self-describing format (`scrypt:n:r:p$salt$hash`),
so a stored hash names its own parameters. The one module that knows the hashing library: services ask here."""

from __future__ import annotations

from werkzeug.security import check_password_hash, generate_password_hash

METHOD = "scrypt"


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=METHOD)


def password_matches(stored_hash: str, password: str) -> bool:
    return check_password_hash(stored_hash, password)
