"""Settings: defaults, then the environment, then a test override; validated once at start.

Fails closed: in production every secret and the database must be given; only development invents them.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .brand import parse_brand
from .decision import QuietHours
from .outbound.mail_providers import DEFAULT_API_URLS, TARGETS, TargetSettings, check_api_url
from .outbound.netguard import parse_allow_hosts
from .outbound.smtp import MailSettings, parse_mail_settings

MIN_LINK_MAX_AGE_DAYS = 60  # CASL wants links to work for 60 days; CAN-SPAM asks 30.
RATELIMIT_REDIS_TIMEOUT_SECONDS = 0.5  # a rate-limit check slower than this is worse than none


class ConfigError(RuntimeError):
    """The service must not start with these settings."""


# Every setting the service reads, with its development default (None: no default).
ENV_SETTINGS: dict[str, str | None] = {
    "PREFS_ENV": "development",
    "PREFS_DATABASE_URL": None,
    "PREFS_SECRET_KEYS": None,
    "PREFS_BASE_URL": None,
    "PREFS_SUPPRESSION_KEY": None,
    "PREFS_LINK_MAX_AGE_DAYS": "365",
    "PREFS_DEFAULT_PHONE_REGION": "US",
    "PREFS_TWILIO_AUTH_TOKEN": None,
    "PREFS_SMS_PROGRAM_NAME": "prefs",
    "PREFS_SUPPORT_CONTACT": None,
    "PREFS_UNSUBSCRIBE_MAILTO": None,
    "PREFS_EMAIL_WEBHOOK_SECRET": None,
    "PREFS_RATELIMIT_STORAGE_URL": None,
    "PREFS_TRUSTED_PROXIES": "0",
    "PREFS_SQLITE_SYNCHRONOUS": "NORMAL",
    "PREFS_MAX_BODY_BYTES": str(4 * 1024 * 1024),
    "PREFS_CACHE_TTL_SECONDS": "2",
    "PREFS_DATABASE_CONNECT_TIMEOUT_SECONDS": "3",
    "PREFS_DATABASE_STATEMENT_TIMEOUT_SECONDS": "15",
    "PREFS_DATABASE_POOLER": "",  # "pgbouncer": PostgreSQL is reached through pgbouncer in transaction mode
    # The delivery worker (SPEC §12, §13).
    "PREFS_RETRY_SCHEDULE": "5,300,1800,7200,18000,36000,36000",  # seconds before each retry, ±20% jitter
    "PREFS_WEBHOOK_ALLOW_HOSTS": "",  # hosts webhooks may reach although private or loopback (and by http://)
    "PREFS_WEBHOOK_DISABLE_AFTER_S": "432000",  # an endpoint failing this long is disabled (5 days)
    "PREFS_WORKER_THREADS": "16",  # deliveries a worker sends at once
    # Calls and texts (SPEC §17): no marketing by sms or phone in this part of the person's day; empty: none.
    "PREFS_QUIET_HOURS": "21:00-08:00",
    # Operating it (docs/operations.md): GET /metrics answers only this bearer token (off when empty); logs
    # as text or as JSON lines carrying request ids.
    "PREFS_METRICS_TOKEN": None,
    "PREFS_LOG_FORMAT": "text",
    # Suppression sync to mail providers (SPEC §15, outbound): the targets, and each one's credentials and API.
    "PREFS_SYNC_TARGETS": "",  # comma-separated: sendgrid, mailgun, postmark, ses
    "PREFS_SENDGRID_API_KEY": None,
    "PREFS_SENDGRID_API_URL": DEFAULT_API_URLS["sendgrid"],
    "PREFS_MAILGUN_API_KEY": None,
    "PREFS_MAILGUN_DOMAIN": None,
    "PREFS_MAILGUN_API_URL": DEFAULT_API_URLS["mailgun"],
    "PREFS_POSTMARK_SERVER_TOKEN": None,
    "PREFS_POSTMARK_MESSAGE_STREAM": "broadcast",  # Postmark's default stream for marketing mail
    "PREFS_POSTMARK_API_URL": DEFAULT_API_URLS["postmark"],
    "PREFS_SES_REGION": None,  # e.g. eu-west-1; the credentials come from the usual AWS environment
    "PREFS_SES_API_URL": None,  # default https://email.<region>.amazonaws.com
    # Mail-provider webhooks (SPEC §15): each provider's is off until its own setting is given.
    "PREFS_SENDGRID_WEBHOOK_PUBLIC_KEY": None,  # the Event Webhook's verification key, base64 DER as SendGrid shows it
    "PREFS_MAILGUN_WEBHOOK_SIGNING_KEY": None,  # Mailgun's HTTP webhook signing key
    "PREFS_POSTMARK_WEBHOOK_USER": None,  # HTTP Basic credentials put in Postmark's webhook URL
    "PREFS_POSTMARK_WEBHOOK_PASSWORD": None,
    "PREFS_SES_TOPIC_ARNS": None,  # comma-separated SNS topics whose messages are accepted (and subscriptions confirmed)
    "PREFS_SNS_CERT_HOSTS": "sns.*.amazonaws.com",  # comma-separated host globs an SNS signing certificate may come from
    # Whose pages these are (SPEC §16, prefs/brand.py): the name defaults to PREFS_SMS_PROGRAM_NAME.
    "PREFS_BRAND_NAME": None,
    "PREFS_BRAND_LOGO_URL": None,
    "PREFS_BRAND_COLOR": None,
    "PREFS_PRIVACY_URL": None,
    "PREFS_CONTACT": None,  # an email address or a URL where people reach the brand
    # Outbound email (SPEC §14, prefs/outbound/smtp.py): both or neither; without them mail is off.
    "PREFS_SMTP_URL": None,  # smtp://user:pass@host:port[?starttls=true], or smtps://... for TLS from the start
    "PREFS_MAIL_FROM": None,  # news@example.com or "Acme <news@example.com>" (the display name defaults to the brand's)
    "PREFS_BENCHMARK": "",  # "1" adds GET /bench/trivial, the baseline route of bench/; never set it in service
}

REQUIRED_IN_PRODUCTION = ("PREFS_DATABASE_URL", "PREFS_SECRET_KEYS", "PREFS_SUPPRESSION_KEY", "PREFS_BASE_URL")
# Settings whose empty value means "off" rather than "not set" (SPEC §17: an empty PREFS_QUIET_HOURS turns them off).
EMPTY_MEANS_OFF = frozenset({"PREFS_QUIET_HOURS"})


def build_config(environ: Mapping[str, str], instance_path: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return the Flask config for these inputs. Raises ConfigError when the service must not start."""
    raw: dict[str, Any] = {name: environ.get(name, default) for name, default in ENV_SETTINGS.items()}
    for name, value in environ.items():  # empty strings mean "not set", as in most deploy tools
        if name in raw and value == "" and name not in EMPTY_MEANS_OFF:
            raw[name] = ENV_SETTINGS[name]
    raw.update({k: v for k, v in (overrides or {}).items() if k in ENV_SETTINGS})
    extra = {k: v for k, v in (overrides or {}).items() if k not in ENV_SETTINGS}

    env = raw["PREFS_ENV"]
    if env not in ("development", "production"):
        raise ConfigError(f"PREFS_ENV must be 'development' or 'production', not {env!r}")
    if env == "production":
        missing = [name for name in REQUIRED_IN_PRODUCTION if not raw[name]]
        if missing:
            raise ConfigError("PREFS_ENV=production needs these settings: " + ", ".join(missing))
    else:
        _fill_development_defaults(raw, instance_path)

    secret_keys = [k.strip() for k in str(raw["PREFS_SECRET_KEYS"]).split(",") if k.strip()]
    if not secret_keys:
        raise ConfigError("PREFS_SECRET_KEYS holds no key")
    link_days = _int(raw, "PREFS_LINK_MAX_AGE_DAYS")
    if link_days < MIN_LINK_MAX_AGE_DAYS:
        raise ConfigError(
            f"PREFS_LINK_MAX_AGE_DAYS must be at least {MIN_LINK_MAX_AGE_DAYS}: links must outlive the law's minimum"
        )
    try:
        cache_ttl = float(raw["PREFS_CACHE_TTL_SECONDS"])
    except (TypeError, ValueError):
        raise ConfigError("PREFS_CACHE_TTL_SECONDS must be a number of seconds") from None
    if not 0 <= cache_ttl <= 5:
        raise ConfigError("PREFS_CACHE_TTL_SECONDS must be between 0 and 5: changes must reach every worker within 5 s")
    mailto = raw["PREFS_UNSUBSCRIBE_MAILTO"]
    if mailto and (mailto.count("@") != 1 or not mailto.split("@")[0] or len(mailto.split("@")[0]) > 64 - 35):
        raise ConfigError(
            "PREFS_UNSUBSCRIBE_MAILTO must be an address like unsubscribe@mail.example.com (local part at most 29 characters)"
        )
    # A request waits at most this long for the database, then answers 503 (prefs/outages.py). libpq
    # rounds a connect timeout under 2 s up to 2; 0 would mean "wait forever", which is the outage to avoid.
    connect_timeout = _int(raw, "PREFS_DATABASE_CONNECT_TIMEOUT_SECONDS")
    if not 2 <= connect_timeout <= 60:
        raise ConfigError("PREFS_DATABASE_CONNECT_TIMEOUT_SECONDS must be between 2 and 60")
    statement_timeout = _int(raw, "PREFS_DATABASE_STATEMENT_TIMEOUT_SECONDS")
    if not 1 <= statement_timeout <= 3600:
        raise ConfigError("PREFS_DATABASE_STATEMENT_TIMEOUT_SECONDS must be between 1 and 3600")
    synchronous = str(raw["PREFS_SQLITE_SYNCHRONOUS"]).upper()
    if synchronous not in ("NORMAL", "FULL"):
        raise ConfigError("PREFS_SQLITE_SYNCHRONOUS must be NORMAL or FULL")

    retry_schedule = _retry_schedule(str(raw["PREFS_RETRY_SCHEDULE"]))
    disable_after = _int(raw, "PREFS_WEBHOOK_DISABLE_AFTER_S")
    if disable_after < 1:
        raise ConfigError("PREFS_WEBHOOK_DISABLE_AFTER_S must be a positive number of seconds")
    try:
        allow_hosts = parse_allow_hosts(str(raw["PREFS_WEBHOOK_ALLOW_HOSTS"]))
    except ValueError as error:
        raise ConfigError(f"PREFS_WEBHOOK_ALLOW_HOSTS: {error}") from None
    worker_threads = _int(raw, "PREFS_WORKER_THREADS")
    if not 1 <= worker_threads <= 128:
        raise ConfigError("PREFS_WORKER_THREADS must be between 1 and 128")
    quiet_hours = _quiet_hours(raw["PREFS_QUIET_HOURS"])
    sendgrid_key = _sendgrid_public_key(raw["PREFS_SENDGRID_WEBHOOK_PUBLIC_KEY"])
    sync_targets = _sync_targets(raw, environ)
    if bool(raw["PREFS_POSTMARK_WEBHOOK_USER"]) != bool(raw["PREFS_POSTMARK_WEBHOOK_PASSWORD"]):
        raise ConfigError("PREFS_POSTMARK_WEBHOOK_USER and PREFS_POSTMARK_WEBHOOK_PASSWORD go together: set both or neither")
    ses_topics = _ses_topic_arns(raw["PREFS_SES_TOPIC_ARNS"])
    sns_cert_hosts = _host_globs(str(raw["PREFS_SNS_CERT_HOSTS"] or ""))
    pooler = str(raw["PREFS_DATABASE_POOLER"] or "").lower()
    if pooler not in ("", "pgbouncer"):
        raise ConfigError("PREFS_DATABASE_POOLER must be empty or pgbouncer (transaction pooling)")
    log_format = str(raw["PREFS_LOG_FORMAT"]).lower()
    if log_format not in ("text", "json"):
        raise ConfigError("PREFS_LOG_FORMAT must be text or json")
    metrics_token = raw["PREFS_METRICS_TOKEN"] or None
    try:
        brand = parse_brand(
            str(raw["PREFS_BRAND_NAME"] or raw["PREFS_SMS_PROGRAM_NAME"] or "prefs"),
            raw["PREFS_BRAND_COLOR"],
            raw["PREFS_BRAND_LOGO_URL"],
            raw["PREFS_PRIVACY_URL"],
            raw["PREFS_CONTACT"],
        )
    except ValueError as error:
        raise ConfigError(str(error)) from None
    mail = _mail_settings(raw, brand.name)
    if metrics_token is not None and len(metrics_token) < 16:
        raise ConfigError("PREFS_METRICS_TOKEN must be at least 16 characters: it guards what the service reveals")

    config: dict[str, Any] = dict(raw)
    config.update(
        PREFS_SECRET_KEYS=secret_keys,
        PREFS_LINK_MAX_AGE_DAYS=link_days,
        PREFS_TRUSTED_PROXIES=_int(raw, "PREFS_TRUSTED_PROXIES"),
        PREFS_SQLITE_SYNCHRONOUS=synchronous,
        PREFS_CACHE_TTL_SECONDS=cache_ttl,
        PREFS_DATABASE_CONNECT_TIMEOUT_SECONDS=connect_timeout,
        PREFS_DATABASE_STATEMENT_TIMEOUT_SECONDS=statement_timeout,
        PREFS_BASE_URL=str(raw["PREFS_BASE_URL"]).rstrip("/"),
        PREFS_DEFAULT_PHONE_REGION=str(raw["PREFS_DEFAULT_PHONE_REGION"]).upper(),
        PREFS_BENCHMARK=str(raw["PREFS_BENCHMARK"]) == "1",
        PREFS_RETRY_SCHEDULE=retry_schedule,
        PREFS_WEBHOOK_ALLOW_HOSTS=allow_hosts,
        PREFS_WEBHOOK_DISABLE_AFTER_S=disable_after,
        PREFS_WORKER_THREADS=worker_threads,
        PREFS_QUIET_HOURS=quiet_hours,
        PREFS_SYNC_TARGETS=sync_targets,
        PREFS_SENDGRID_WEBHOOK_PUBLIC_KEY=sendgrid_key,
        PREFS_SES_TOPIC_ARNS=ses_topics,
        PREFS_SNS_CERT_HOSTS=sns_cert_hosts,
        PREFS_DATABASE_POOLER=pooler,
        PREFS_LOG_FORMAT=log_format,
        PREFS_METRICS_TOKEN=metrics_token,
        PREFS_BRAND=brand,
        PREFS_MAIL=mail,
        SECRET_KEY=secret_keys[0],
        SQLALCHEMY_DATABASE_URI=raw["PREFS_DATABASE_URL"],
        # Console session cookie (SPEC §7): never readable by scripts, not sent cross-site, HTTPS-only outside development.
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=env != "development",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=env != "development",
        PERMANENT_SESSION_LIFETIME=8 * 3600,
        WTF_CSRF_TIME_LIMIT=8 * 3600,  # a console form stays valid as long as the session
        RATELIMIT_STORAGE_URI=raw["PREFS_RATELIMIT_STORAGE_URL"] or "memory://",
        RATELIMIT_HEADERS_ENABLED=True,
        # Redis down must never block a page or an unsubscribe: each worker keeps counting in memory (the
        # same limits, per worker) and Flask-Limiter logs the switch once; errors it cannot fall back
        # from are logged and let through. A Redis that accepts and never answers costs a request at
        # most RATELIMIT_REDIS_TIMEOUT_SECONDS per try, not a hang.
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        RATELIMIT_SWALLOW_ERRORS=True,
        RATELIMIT_STORAGE_OPTIONS={
            "socket_connect_timeout": RATELIMIT_REDIS_TIMEOUT_SECONDS,
            "socket_timeout": RATELIMIT_REDIS_TIMEOUT_SECONDS,
        },
        MAX_CONTENT_LENGTH=_int(raw, "PREFS_MAX_BODY_BYTES"),
    )
    config.update(extra)
    return config


def _fill_development_defaults(raw: dict[str, Any], instance_path: str) -> None:
    """Development may run with no settings at all: SQLite and secrets kept under instance/."""
    Path(instance_path).mkdir(parents=True, exist_ok=True)
    if not raw["PREFS_DATABASE_URL"]:
        raw["PREFS_DATABASE_URL"] = "sqlite:///" + os.path.join(instance_path, "prefs.sqlite3")
    if not raw["PREFS_BASE_URL"]:
        raw["PREFS_BASE_URL"] = "http://127.0.0.1:5000"
    if not raw["PREFS_SECRET_KEYS"] or not raw["PREFS_SUPPRESSION_KEY"]:
        invented = _development_secrets(Path(instance_path) / "dev-secrets.json")
        raw["PREFS_SECRET_KEYS"] = raw["PREFS_SECRET_KEYS"] or invented["secret_key"]
        raw["PREFS_SUPPRESSION_KEY"] = raw["PREFS_SUPPRESSION_KEY"] or invented["suppression_key"]


def _development_secrets(path: Path) -> dict[str, str]:
    """Invent secrets once and keep them, so links and suppressions survive a restart.

    Written to a temporary file and hard-linked into place, so two processes starting at once agree.
    """
    if not path.exists():
        invented = {"secret_key": secrets.token_urlsafe(32), "suppression_key": secrets.token_urlsafe(32)}
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(invented, handle)
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    return json.loads(path.read_text())


def _retry_schedule(text: str) -> tuple[float, ...]:
    try:
        delays = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"PREFS_RETRY_SCHEDULE must be comma-separated seconds, not {text!r}") from None
    if not delays or any(not 0 <= delay <= 7 * 86400 for delay in delays):
        raise ConfigError("PREFS_RETRY_SCHEDULE needs at least one delay, each between 0 and 604800 seconds")
    return delays


def _quiet_hours(value: Any) -> QuietHours | None:
    text = "" if value is None else str(value)
    if not text.strip():
        return None
    try:
        return QuietHours.parse(text)
    except ValueError:
        raise ConfigError(
            f"PREFS_QUIET_HOURS must be two different times of day as HH:MM-HH:MM, e.g. 21:00-08:00, or empty for none, not {text!r}"
        ) from None


def _sendgrid_public_key(value: Any) -> ec.EllipticCurvePublicKey | None:
    """The Event Webhook's verification key: base64 of the DER public key, as SendGrid's settings page shows it."""
    if not value:
        return None
    try:
        key = serialization.load_der_public_key(base64.b64decode(str(value).strip(), validate=True))
    except (ValueError, binascii.Error, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ConfigError(
            "PREFS_SENDGRID_WEBHOOK_PUBLIC_KEY must be the Signed Event Webhook's verification key as SendGrid shows it "
            "(base64 of an ECDSA P-256 public key)"
        )
    return key


SES_TOPIC_ARN_RE = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?")
HOST_GLOB_LABEL_RE = re.compile(r"[a-z0-9*-]{1,63}")


def _ses_topic_arns(value: Any) -> tuple[str, ...]:
    arns = tuple(part.strip() for part in str(value or "").split(",") if part.strip())
    for arn in arns:
        if not SES_TOPIC_ARN_RE.fullmatch(arn):
            raise ConfigError(f"PREFS_SES_TOPIC_ARNS: {arn!r} is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)")
    return arns


def _host_globs(value: str) -> tuple[str, ...]:
    """Host names in which `*` stands for one label (sns.*.amazonaws.com), lower case; an IP address is itself."""
    globs = tuple(part.strip().lower().rstrip(".") for part in value.split(",") if part.strip())
    for glob in globs:
        if not all(HOST_GLOB_LABEL_RE.fullmatch(label) for label in glob.split(".")):
            raise ConfigError(f"PREFS_SNS_CERT_HOSTS: {glob!r} is not a host name pattern like sns.*.amazonaws.com")
    return globs


# Where a target's credentials come from, for the line that refuses to start without them.
_SYNC_NEEDS = {
    "sendgrid": ("PREFS_SENDGRID_API_KEY",),
    "mailgun": ("PREFS_MAILGUN_API_KEY", "PREFS_MAILGUN_DOMAIN"),
    "postmark": ("PREFS_POSTMARK_SERVER_TOKEN", "PREFS_POSTMARK_MESSAGE_STREAM"),
    "ses": ("PREFS_SES_REGION",),
}
# Any of these in the environment gives boto3 its credentials without a network look-up at start.
AWS_CREDENTIAL_SOURCES = (("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"), ("AWS_PROFILE",), ("AWS_WEB_IDENTITY_TOKEN_FILE",),
                          ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",), ("AWS_CONTAINER_CREDENTIALS_FULL_URI",))  # fmt: skip
SES_REGION_RE = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]")


def _sync_targets(raw: Mapping[str, Any], environ: Mapping[str, str]) -> tuple[TargetSettings, ...]:
    """PREFS_SYNC_TARGETS with each target's settings; a target without its credentials stops the start."""
    names = [part.strip().lower() for part in str(raw["PREFS_SYNC_TARGETS"] or "").split(",") if part.strip()]
    for name in names:
        if name not in TARGETS:
            raise ConfigError(f"PREFS_SYNC_TARGETS: {name!r} is not one of {', '.join(TARGETS)}")
    if len(set(names)) != len(names):
        raise ConfigError("PREFS_SYNC_TARGETS names a target twice")
    targets = []
    for name in names:
        missing = [setting for setting in _SYNC_NEEDS[name] if not raw[setting]]
        if name == "ses" and not any(all(environ.get(var) for var in source) for source in AWS_CREDENTIAL_SOURCES):
            missing.append("AWS credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)")
        if missing:
            raise ConfigError(f"PREFS_SYNC_TARGETS lists {name}, which needs " + ", ".join(missing))
        region = str(raw["PREFS_SES_REGION"]).strip() if name == "ses" else None
        if region is not None and not SES_REGION_RE.fullmatch(region):
            raise ConfigError(f"PREFS_SES_REGION must be an AWS region like eu-west-1, not {region!r}")
        url_setting = f"PREFS_{name.upper()}_API_URL"
        url = raw[url_setting] or f"https://email.{region}.amazonaws.com"
        try:
            api_url = check_api_url(str(url))
        except ValueError as error:
            raise ConfigError(f"{url_setting} {error}") from None
        secret = {
            "sendgrid": "PREFS_SENDGRID_API_KEY",
            "mailgun": "PREFS_MAILGUN_API_KEY",
            "postmark": "PREFS_POSTMARK_SERVER_TOKEN",
        }
        targets.append(
            TargetSettings(
                name,
                api_url,
                str(raw[secret[name]]) if name in secret else "",
                domain=str(raw["PREFS_MAILGUN_DOMAIN"]) if name == "mailgun" else None,
                stream=str(raw["PREFS_POSTMARK_MESSAGE_STREAM"]) if name == "postmark" else None,
                region=region,
            )
        )
    return tuple(targets)


# --- Outbound email (SPEC §14) -------------------------------------------------------------------------
def _mail_settings(raw: Mapping[str, Any], brand_name: str) -> MailSettings | None:
    """PREFS_SMTP_URL and PREFS_MAIL_FROM parsed once; None: mail is off (said at start, prefs/__init__.py)."""
    try:
        return parse_mail_settings(raw["PREFS_SMTP_URL"], raw["PREFS_MAIL_FROM"], brand_name)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def _int(raw: Mapping[str, Any], name: str) -> int:
    try:
        return int(raw[name])
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a whole number, not {raw[name]!r}") from None
