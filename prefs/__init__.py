"""prefs: marketing-communications preferences and opt-outs. `create_app` builds the service."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

import click
from flask import Flask, Response, request, session
from flask.globals import request_ctx
from flask.json.provider import DefaultJSONProvider
from flask_limiter import Limiter
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import build_config
from .cookie_sessions import LeanCookieSessionInterface
from .extensions import csrf, limiter, login_manager, migrate
from .logs import PrefsFlask, configure_logging

log = logging.getLogger(__name__)


class SchemaOrderJSONProvider(DefaultJSONProvider):
    sort_keys = False  # keep fields in the order the schemas give them


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Defaults, then the environment, then `config` (tests). Raises ConfigError on unsafe settings."""
    app = PrefsFlask(__name__, template_folder="../templates", static_folder="../static")
    app.config.update(build_config(os.environ, app.instance_path, config))
    configure_logging(app.config["PREFS_LOG_FORMAT"])
    app.json = SchemaOrderJSONProvider(app)
    app.session_interface = LeanCookieSessionInterface()
    if app.config["PREFS_TRUSTED_PROXIES"]:
        hops = app.config["PREFS_TRUSTED_PROXIES"]  # client IPs in evidence and rate limits come from these
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    register_extensions(app)
    register_blueprints(app)
    register_cli(app)
    register_transport_security(app)
    if not app.testing and _serving():
        say_what_is_off(app)
    return app


def _serving() -> bool:
    """Under gunicorn (no click command at all) or `flask run`; not for `flask db upgrade`, `flask staff …`.
    (`flask serve` is a command of the app's, so the app is made before the command is known: it says what
    is off itself.)"""
    command = click.get_current_context(silent=True)
    return command is None or command.command.name == "run"


def check_settings() -> None:
    """Raise ConfigError as create_app would, without building an app: gunicorn's master checks the
    settings once, before any worker starts, so a refusal is one line and no worker is forked."""
    build_config(os.environ, Flask(__name__).instance_path, None)


def say_what_is_off(app: Flask) -> None:
    """A feature whose own setting is missing is off (SPEC §8); say so at start, not at the first request."""
    if app.config["PREFS_ENV"] == "development":
        log.warning(
            "PREFS_ENV is development: secrets and the SQLite database may come from instance/. Never serve real traffic this way."
        )
    for setting, feature in (
        ("PREFS_TWILIO_AUTH_TOKEN", "The SMS webhook (/webhooks/sms) is"),
        ("PREFS_EMAIL_WEBHOOK_SECRET", "The inbound-mail webhook (/webhooks/email) is"),
        ("PREFS_UNSUBSCRIBE_MAILTO", "Mailto unsubscribe addresses in List-Unsubscribe are"),
    ):
        if not app.config[setting]:
            log.warning("%s off because %s is not set.", feature, setting)
    if app.config["PREFS_MAIL"] is None:  # outbound email (SPEC §14): both settings or neither
        log.warning(
            "Email sending (email-me-my-link, confirmation mails) is off because PREFS_SMTP_URL and PREFS_MAIL_FROM are not set."
        )


HSTS = "max-age=31536000; includeSubDomains"  # a year; RFC 6797


def register_transport_security(app: Flask) -> None:
    """Outside development, browsers that have seen the service once reach it over HTTPS only (the session
    cookie is Secure there too); development serves plain HTTP on 127.0.0.1, which HSTS would break."""
    if app.config["PREFS_ENV"] == "development":
        return

    @app.after_request
    def strict_transport_security(response: Response) -> Response:
        response.headers["Strict-Transport-Security"] = HSTS
        return response


def register_extensions(app: Flask) -> None:
    from .db.engine import init_engine
    from .extensions import db  # not a module global: the package's `db` attribute is the prefs.db subpackage
    from .i18n import init_i18n
    from .outages import register_outage_handlers
    from .runtime import init_runtime

    init_engine(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(app.root_path), "migrations"))
    # No `current_user` in every template: only the console shows who is signed in (console_globals), and a
    # public page (a one-click unsubscribe, the preference center) would otherwise load a staff member from
    # a console cookie the browser happens to carry, on every render.
    login_manager.init_app(app, add_context_processor=False)
    csrf.init_app(app)
    app.config["RATELIMIT_ON_BREACH_CALLBACK"] = _count_rate_limited
    limiter.init_app(app)
    init_runtime(app)
    init_i18n(app)
    register_outage_handlers(app)


def _count_rate_limited(_limit) -> None:
    """prefs_rate_limited_total, per route (Flask-Limiter calls it on every 429 it answers)."""
    from .metrics import count_rate_limited

    count_rate_limited(request.url_rule.rule if request.url_rule else None)


def register_blueprints(app: Flask) -> None:
    from .api import register_api
    from .api.blueprint import blp as api_blp
    from .console import bp as console_bp
    from .health import bp as health_bp
    from .pages import bp as pages_bp
    from .request_guards import register_request_guards
    from .webhooks import bp as webhooks_bp

    register_request_guards(app)
    register_api(app)
    for blueprint in (health_bp, pages_bp, webhooks_bp, console_bp):
        app.register_blueprint(blueprint)
    # CSRF protects the console's cookie sessions. The API (bearer keys), the recipient pages (signed
    # links, no cookies, and RFC 8058 forbids a CSRF token on one-click) and the webhooks (signatures) have
    # no session to ride on.
    for blueprint in (api_blp, pages_bp, webhooks_bp, health_bp):
        csrf.exempt(blueprint)
    # Flask-Limiter checks every request in an app-wide hook, tens of microseconds even where no limit
    # applies; the API's check is the hot path and has none, so the hook runs only where limits are declared.
    app.before_request_funcs[None].remove(limiter._check_request_limit)
    unlimited = {"pages.do_unsubscribe", "webhooks.sms"}  # a 429 there loses an unsubscribe or a STOP

    def check_limits() -> None:
        if request.endpoint not in unlimited:
            limiter._check_request_limit()

    for blueprint in (pages_bp, webhooks_bp, console_bp):
        app.before_request_funcs.setdefault(blueprint.name, []).insert(0, check_limits)
    _skip_hooks_with_nothing_to_do(app)
    if app.config["PREFS_BENCHMARK"]:
        app.add_url_rule("/bench/trivial", "bench_trivial", lambda: {"ok": True})


def _skip_hooks_with_nothing_to_do(app: Flask) -> None:
    """Flask-WTF's CSRF hook, Flask-Limiter's after-request hook (its headers, its deduct_when deductions) and
    teardown, and Flask-Login's remember-me cookie hook run on every request; on the API, which has no form, no
    limit and no session, they were a quarter of the cost of its cheapest answer (issue 17). Each now runs only
    where it has something to do: CSRF for the methods it checks (Flask-WTF's own first test after its
    exemptions), the limiter's where a limit was evaluated during the request (it keeps that on the request
    context), Flask-Login's where the request came with a session cookie or made a session."""
    checked_methods = frozenset(app.config["WTF_CSRF_METHODS"])
    before = app.before_request_funcs[None]
    csrf_hook = next(hook for hook in before if getattr(hook, "__name__", "") == "csrf_protect")

    def csrf_protect() -> None:
        if request_ctx.request.method in checked_methods:
            csrf_hook()

    before[before.index(csrf_hook)] = csrf_protect
    hooks = app.after_request_funcs[None]
    limiter_hook = Limiter._Limiter__inject_headers  # type: ignore[attr-defined]
    inject: Callable[[Response], Response] = next(hook for hook in hooks if getattr(hook, "func", None) is limiter_hook)  # type: ignore[assignment]
    remember: Callable[[Response], Response] = next(
        hook for hook in hooks if getattr(hook, "__name__", "") == "_update_remember_cookie"
    )  # type: ignore[assignment]
    release = app.teardown_request_funcs[None].pop(app.teardown_request_funcs[None].index(limiter._Limiter__release_context))  # type: ignore[attr-defined]

    def limiter_headers(response: Response) -> Response:
        return inject(response) if hasattr(request_ctx._get_current_object(), "_limiter_request_context") else response  # type: ignore[attr-defined]

    def limiter_release(error: BaseException | None = None) -> None:
        if hasattr(request_ctx._get_current_object(), "_limiter_request_context"):  # type: ignore[attr-defined]
            release(error)

    def remember_cookie(response: Response) -> Response:
        return remember(response) if session or session.modified else response

    hooks[hooks.index(inject)] = limiter_headers
    hooks[hooks.index(remember)] = remember_cookie
    app.teardown_request_funcs[None].append(limiter_release)


def register_cli(app: Flask) -> None:
    from .cli import COMMANDS

    for command in COMMANDS:
        app.cli.add_command(command)
