"""Error answers become exceptions by their stable code, with the message, details and status."""

from __future__ import annotations

import pytest
from conftest import LiveServer
from support import error_answer, scripted_server, unique

from prefs_client import (
    Forbidden,
    Invalid,
    NotFound,
    PrefsClient,
    PrefsError,
    ServerError,
    Unauthorized,
)


def test_an_unknown_recipient_is_not_found(client: PrefsClient) -> None:
    with pytest.raises(NotFound) as missing:
        client.get_recipient(unique("nobody"))
    assert (missing.value.status, missing.value.code) == (404, "not_found") and missing.value.message
    assert isinstance(missing.value, PrefsError)


def test_a_key_without_the_scope_is_forbidden_and_an_unknown_key_unauthorized(prefs_server: LiveServer) -> None:
    with PrefsClient(prefs_server.url, prefs_server.make_key(unique("mailer"), "check")) as mailer:
        assert mailer.check("billing", "email", recipient_id=unique("nobody")).reason == "unknown_recipient"
        with pytest.raises(Forbidden) as refused:
            mailer.get_recipient("cust-1")
    assert (refused.value.status, refused.value.code) == (403, "forbidden")
    with PrefsClient(prefs_server.url, "prefs_not-a-key") as stranger, pytest.raises(Unauthorized) as unknown:
        stranger.topics()
    assert unknown.value.status == 401


def test_invalid_input_is_422_with_field_errors_in_details(client: PrefsClient) -> None:
    with pytest.raises(Invalid) as refused:
        client.put_recipient(unique(), email="not an address")
    assert refused.value.status == 422 and refused.value.code == "invalid"
    assert list(refused.value.details) == ["email"] and refused.value.details["email"]
    with pytest.raises(Invalid) as two_fields:
        client.put_recipient(unique(), phone=["+14155550000"], locale="??")  # type: ignore[arg-type]
    assert set(two_fields.value.details) == {"phone", "locale"}
    with pytest.raises(Invalid):
        client.find_recipients()  # neither email nor phone


def test_answers_outside_the_error_shape_are_classed_by_status() -> None:
    gateway = (502, {"Content-Type": "text/html"}, b"<html>Bad Gateway</html>")
    new_code = error_answer(422, "consent_required")
    with scripted_server(None, gateway, new_code, (418, {"X-Request-Id": "req-7"}, b"")) as server:
        with PrefsClient(server.url, "k") as client:
            with pytest.raises(ServerError) as bad_gateway:
                client.topics()
            with pytest.raises(Invalid) as unknown_code:
                client.topics()
            with pytest.raises(PrefsError) as teapot:
                client.topics()
    assert (bad_gateway.value.status, bad_gateway.value.code, bad_gateway.value.message) == (502, "server_error", "Bad Gateway")
    assert unknown_code.value.code == "consent_required"
    assert type(teapot.value) is PrefsError and teapot.value.request_id == "req-7"


def test_errors_survive_pickling_as_a_process_pool_carries_them(client: PrefsClient) -> None:
    """Exception's own pickling called the class with the formatted text alone: unpickling failed, and a process
    pool that met one was broken for every task in it (found in review)."""
    import pickle

    with pytest.raises(NotFound) as raised:
        client.get_recipient(unique("nobody"))
    copy = pickle.loads(pickle.dumps(raised.value))  # noqa: S301  (our own bytes, as a process pool sends them)
    assert type(copy) is NotFound and str(copy) == str(raised.value)
    assert (copy.code, copy.message, copy.status, copy.details, copy.request_id) == (
        raised.value.code, raised.value.message, 404, raised.value.details, raised.value.request_id,
    )  # fmt: skip


def test_a_key_read_with_its_newline_works_and_a_key_that_cannot_be_sent_is_refused_unquoted(prefs_server: LiveServer) -> None:
    """A key read from a file kept its newline: httpx refused the header, quoting it, key and all, in the
    ConnectionFailed text (found in review)."""
    with PrefsClient(prefs_server.url, prefs_server.admin_key + "\n") as client:
        assert client.topics()
    bad = prefs_server.admin_key[:8] + "\n" + prefs_server.admin_key[8:]
    with pytest.raises(ValueError) as refused:
        PrefsClient(prefs_server.url, bad)
    assert prefs_server.admin_key[:8] not in str(refused.value)
