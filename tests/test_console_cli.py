"""`flask --app app staff …`: accounts for the console, passwords hashed with scrypt, changes recorded."""

from __future__ import annotations

from console_client import PASSWORD, Console
from sqlalchemy import select

from prefs.extensions import db
from prefs.models import AdminEvent, StaffUser

pytest_plugins = ["console_fixtures"]


def test_staff_create_reads_the_password_from_stdin_and_stores_only_a_scrypt_hash(app, runner):
    result = runner.invoke(args=["staff", "create", "Ops@Example.com", "--role", "admin"], input=PASSWORD + "\n")
    assert result.exit_code == 0 and "Created admin account ops@example.com." in result.output
    assert PASSWORD not in result.output
    with app.app_context():
        staff = db.session.execute(select(StaffUser)).scalar_one()
        assert staff.email == "ops@example.com" and staff.role == "admin"
        assert staff.password_hash.startswith("scrypt:") and PASSWORD not in staff.password_hash
        event = db.session.execute(select(AdminEvent)).scalar_one()
        assert (event.actor, event.action, event.target, event.details) == (
            "cli",
            "staff.created",
            "ops@example.com",
            {"role": "admin"},
        )
    assert Console(app).login("ops@example.com").status_code == 303


def test_staff_create_refusals(runner, make_staff):
    make_staff("agent@example.com", "agent")
    for args, given, message in [
        (["staff", "create", "agent@example.com", "--role", "agent"], PASSWORD, "exists already"),
        (["staff", "create", "new@example.com", "--role", "root"], PASSWORD, "Invalid value for '--role'"),
        (["staff", "create", "new@example.com"], PASSWORD, "Missing option '--role'"),
        (["staff", "create", "new@example.com", "--role", "agent"], "short", "password: At least 12 characters."),
        (["staff", "create", "not an email", "--role", "agent"], PASSWORD, "email: Not a valid email address"),
    ]:
        result = runner.invoke(args=args, input=given + "\n")
        assert result.exit_code != 0 and message in result.output, (args, result.output)
        assert given not in result.output or given == "short"


def test_staff_disable_ends_sessions_and_list_shows_no_secrets(app, runner, make_staff):
    make_staff("agent@example.com", "agent")
    session = Console(app)
    assert session.login("agent@example.com").status_code == 303
    result = runner.invoke(args=["staff", "disable", "AGENT@example.com"])
    assert result.exit_code == 0 and "Disabled agent@example.com." in result.output
    assert session.get("/console/").status_code == 302
    assert Console(app).login("agent@example.com").status_code == 401
    assert "disabled already" in runner.invoke(args=["staff", "disable", "agent@example.com"]).output
    missing = runner.invoke(args=["staff", "disable", "nobody@example.com"])
    assert missing.exit_code != 0 and "No staff account" in missing.output
    listing = runner.invoke(args=["staff", "list"]).output
    assert listing.startswith("agent@example.com\tagent\tdisabled ") and "scrypt" not in listing
