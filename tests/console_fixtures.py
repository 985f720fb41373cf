"""Fixtures for the console tests: staff accounts made with the `staff` CLI, signed-in sessions.

Test modules load them with `pytest_plugins = ["console_fixtures"]`; helpers live in console_client.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from console_client import PASSWORD, Console


@pytest.fixture
def make_staff(runner) -> Callable[..., str]:
    """Create a staff account with the operator CLI (password on stdin); returns its email."""

    def make(email: str, role: str, password: str = PASSWORD) -> str:
        result = runner.invoke(args=["staff", "create", email, "--role", role], input=password + "\n")
        assert result.exit_code == 0, result.output
        return email

    return make


@pytest.fixture
def console(app, make_staff) -> Callable[[str], Console]:
    """`console("agent")`: a signed-in session of a new staff member with that role (email ROLE@example.com)."""

    def sign_in(role: str, email: str | None = None) -> Console:
        email = make_staff(email or f"{role}@example.com", role)
        session = Console(app)
        response = session.login(email)
        assert response.status_code == 303, response.get_data(as_text=True)
        return session

    return sign_in


@pytest.fixture
def anonymous(app) -> Console:
    """A browser session nobody has signed in to yet."""
    return Console(app)
