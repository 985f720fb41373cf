"""Staff passwords (NIST SP 800-63B): common, breached-style and self-naming ones are refused wherever a
password is set: `staff create`, an admin creating an account, an admin resetting one."""

from __future__ import annotations

import re

import pytest
from conftest import BASE_SETTINGS
from console_client import PASSWORD, Console
from sqlalchemy import select

from prefs import create_app
from prefs.extensions import db
from prefs.models import StaffUser

pytest_plugins = ["console_fixtures"]

LISTED = "on a list of common and breached passwords"
PATTERN = "repeated or sequential pattern"
NAMED = "must not contain the email address"
STAFF = "/console/admin/staff"
FULL_COST = "scrypt:32768:8:1$"  # werkzeug's scrypt, N=2**15
TEST_COST = "scrypt:1024:8:1$"

REFUSED = [
    ("qwertyuiopasdfgh", LISTED),  # in the list as it is
    ("Password1234!", LISTED),  # a listed one with digits and symbols around it
    ("PASSWORD 12345678", LISTED),  # upper case and a space change nothing
    ("1qaz2wsx3edc", LISTED),
    ("ab ab ab ab ab ab", PATTERN),
    ("passpasspasspass", PATTERN),
    ("a-b-c-d-e-f-g-h-i-j", PATTERN),
    ("!!!!!!!!!!!!a", PATTERN),
    ("Dana.Scully was here 99", NAMED),  # the name before the @, however it is written
    ("x dana.scully@example.com", NAMED),
]


@pytest.mark.parametrize(("password", "why"), REFUSED, ids=[p for p, _ in REFUSED])
def test_staff_create_refuses_weak_passwords(runner, password, why):
    result = runner.invoke(args=["staff", "create", "dana.scully@example.com", "--role", "agent"], input=password + "\n")
    assert result.exit_code != 0 and "password: " in result.output and why in result.output, result.output
    assert password not in result.output  # never echoed
    assert runner.invoke(args=["staff", "list"]).output == ""


def test_an_admin_cannot_give_a_new_account_a_weak_password(console):
    admin = console("admin")
    for password, why in REFUSED:
        response = admin.submit(STAFF, STAFF, {"email": "dana.scully@example.com", "role": "agent", "password": password})
        assert response.status_code == 422 and why in response.get_data(as_text=True), password
    assert "dana.scully@example.com" not in admin.text(STAFF)
    assert (
        admin.submit(STAFF, STAFF, {"email": "dana.scully@example.com", "role": "agent", "password": PASSWORD}).status_code == 303
    )


def test_a_reset_to_a_weak_password_is_refused_and_changes_nothing(console, app, make_staff):
    make_staff("dana.scully@example.com", "agent")
    admin = console("admin")
    member = re.search(r'href="(/console/admin/staff/\d+)">dana.scully@example.com<', admin.text(STAFF)).group(1)
    for password, why in REFUSED:
        response = admin.submit(member, member + "/password", {"password": password})
        assert response.status_code == 422 and why in response.get_data(as_text=True), password
    assert Console(app).login("dana.scully@example.com").status_code == 303  # the old password still works
    events = admin.text("/console/admin/events")
    assert "staff.password_reset" not in events


@pytest.mark.parametrize("password", [PASSWORD, "zoo keeper's hat 7", "xK9#mq2!vR7$", "stops and starts now"])
def test_long_uncommon_passwords_are_accepted(runner, password):
    """Passphrases pass; a short name ("ops") inside another word is not the account's name."""
    result = runner.invoke(args=["staff", "create", "ops@example.com", "--role", "agent"], input=password + "\n")
    assert result.exit_code == 0, result.output


def stored_hashes(app) -> dict[str, str]:
    with app.app_context():
        return {staff.email: staff.password_hash for staff in db.session.execute(select(StaffUser)).scalars()}


def test_the_tests_hash_cheaply_on_every_path_that_sets_a_password(app, console, make_staff):
    """conftest asks for PREFS_TEST_CHEAP_PASSWORD_HASHING: `staff create`, an admin creating an account and an
    admin resetting one all hash with the hasher the factory built, so the console tests skip full scrypt."""
    make_staff("dana.scully@example.com", "agent")
    admin = console("admin")
    assert (
        admin.submit(STAFF, STAFF, {"email": "fox.mulder@example.com", "role": "agent", "password": PASSWORD}).status_code == 303
    )
    member = re.search(r'href="(/console/admin/staff/\d+)">dana.scully@example.com<', admin.text(STAFF)).group(1)
    assert admin.submit(member, member + "/password", {"password": "zoo keeper's hat 7"}).status_code == 303
    hashes = stored_hashes(app)
    assert len(hashes) == 3 and all(stored.startswith(TEST_COST) for stored in hashes.values()), hashes
    assert Console(app).login("dana.scully@example.com", "zoo keeper's hat 7").status_code == 303


def test_no_deployment_can_make_password_hashing_cheap(app, database_url, monkeypatch):
    """The setting counts only in a test app (TESTING): in the environment it is never read, and given to an
    app that is not testing it changes nothing."""
    for name, value in {**BASE_SETTINGS, "PREFS_DATABASE_URL": database_url}.items():
        monkeypatch.setenv(name, str(value))  # TESTING and the cheap setting too
    deployed = create_app()  # as app.py builds it: settings from the environment alone
    told = create_app({**BASE_SETTINGS, "PREFS_DATABASE_URL": database_url, "TESTING": False})
    for number, service in enumerate((deployed, told)):
        assert not service.testing
        email = f"ops{number}@example.com"
        result = service.test_cli_runner().invoke(args=["staff", "create", email, "--role", "admin"], input=PASSWORD + "\n")
        assert result.exit_code == 0, result.output
        assert stored_hashes(service)[email].startswith(FULL_COST)
        with service.app_context():
            db.engine.dispose()
