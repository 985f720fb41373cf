"""Configuration fails closed: production never invents a secret or a database."""

from __future__ import annotations

import pytest

from prefs.config import ConfigError, build_config

PRODUCTION = {
    "PREFS_ENV": "production",
    "PREFS_DATABASE_URL": "postgresql+psycopg://db/prefs",
    "PREFS_SECRET_KEYS": "new, old",
    "PREFS_SUPPRESSION_KEY": "s",
    "PREFS_BASE_URL": "https://prefs.example.com/",
}


@pytest.mark.parametrize("missing", ["PREFS_DATABASE_URL", "PREFS_SECRET_KEYS", "PREFS_SUPPRESSION_KEY", "PREFS_BASE_URL"])
def test_production_refuses_to_start_without_each_required_setting(tmp_path, missing):
    environ = {k: v for k, v in PRODUCTION.items() if k != missing}
    with pytest.raises(ConfigError, match=missing):
        build_config(environ, str(tmp_path))
    with pytest.raises(ConfigError, match=missing):
        build_config({**environ, missing: ""}, str(tmp_path))
    assert not list(tmp_path.iterdir())  # and invented nothing


def test_production_settings_are_parsed(tmp_path):
    config = build_config(PRODUCTION, str(tmp_path))
    assert config["PREFS_SECRET_KEYS"] == ["new", "old"] and config["SECRET_KEY"] == "new"
    assert config["PREFS_BASE_URL"] == "https://prefs.example.com"
    assert config["PREFS_LINK_MAX_AGE_DAYS"] == 365 and config["PREFS_DEFAULT_PHONE_REGION"] == "US"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PREFS_LINK_MAX_AGE_DAYS", "59"),
        ("PREFS_LINK_MAX_AGE_DAYS", "soon"),
        ("PREFS_ENV", "staging"),
        ("PREFS_CACHE_TTL_SECONDS", "6"),
        ("PREFS_SQLITE_SYNCHRONOUS", "OFF"),
    ],
)
def test_unsafe_values_are_refused(tmp_path, name, value):
    with pytest.raises(ConfigError):
        build_config({**PRODUCTION, name: value}, str(tmp_path))


def test_development_invents_secrets_once_and_keeps_them(tmp_path):
    first = build_config({"PREFS_ENV": "development"}, str(tmp_path))
    second = build_config({}, str(tmp_path))  # development is the default profile
    assert (
        first["PREFS_SECRET_KEYS"] == second["PREFS_SECRET_KEYS"]
        and first["PREFS_SUPPRESSION_KEY"] == second["PREFS_SUPPRESSION_KEY"]
    )
    assert first["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/prefs.sqlite3"
    assert (tmp_path / "dev-secrets.json").stat().st_mode & 0o077 == 0


def test_a_cache_ttl_that_is_not_a_number_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="PREFS_CACHE_TTL_SECONDS"):
        build_config({**PRODUCTION, "PREFS_CACHE_TTL_SECONDS": "soon"}, str(tmp_path))
