"""Example requests and answers of the API reference: one story (the person cust-42, the README's walk-through),
each value as the service would give it. tests/test_api_reference.py validates each against its schema."""

from __future__ import annotations

from typing import Any

CREATED_AT = "2026-11-02T09:15:02.518842+00:00"
UPDATED_AT = "2026-11-30T16:40:11.204513+00:00"
UNSUBSCRIBE_URL = "https://prefs.example.com/u/.eJyrVipSslJKLi0u0TUxUtJRSgbyUnMTM3OA7BIgOy-1vDgntaQktQgokAtSmp.awzQZg.jvgeSpNh5Q4lKKpANAUArYcEpRM"
PREFERENCES_URL = "https://prefs.example.com/p/.eJyrVipSslJKLi0u0TUxUtJRSgbyUnMTM3OA7BIgOy-1vDgntaQktQgokAtSmp.awzQZg.XIffMrAX_1Vw6nmj6-Rn5_P8-TI"
LINKS = {
    "unsubscribe_url": UNSUBSCRIBE_URL,
    "preferences_url": PREFERENCES_URL,
    "headers": {"List-Unsubscribe": f"<{UNSUBSCRIBE_URL}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
}
SMS_LINKS = {"unsubscribe_url": UNSUBSCRIBE_URL, "preferences_url": PREFERENCES_URL}

# --- checks ---------------------------------------------------------------------------------------------
CHECK_REQUEST = {"recipient_id": "cust-42", "topic": "newsletter", "channel": "email"}
CHECK_RESULT = {"allowed": True, "reason": "default", "recipient_id": "cust-42", "topic": "newsletter", "channel": "email"}
AUDIENCE_REQUEST = {"email": "lee@example.com"}
AUDIENCE_RESULT = {"allowed": False, "reason": "do_not_sell_or_share", "recipient_id": "cust-42"}
BATCH_REQUEST = {
    "topic": "newsletter",
    "channel": "email",
    "include_links": True,
    "checks": [
        {"recipient_id": "cust-42", "message_id": "campaign-7"},
        {"email": "lee@example.com"},
        {"phone": "+14155550199", "channel": "sms", "at": "2026-12-01T21:30:00-08:00"},
        {"phone": "+1 415 555"},
    ],
}
BATCH_RESPONSE = {
    "results": [
        {"allowed": True, "reason": "default", "recipient_id": "cust-42", "topic": "newsletter", "channel": "email", **LINKS},
        {"allowed": False, "reason": "unknown_recipient", "recipient_id": None, "topic": "newsletter", "channel": "email"},
        {"allowed": False, "reason": "quiet_hours", "recipient_id": "cust-77", "topic": "newsletter", "channel": "sms"},
        {"allowed": False, "reason": "invalid", "error": {"code": "invalid", "message": "Invalid value for phone."}},
    ]
}

# --- links ----------------------------------------------------------------------------------------------
LINKS_REQUEST = {"recipient_id": "cust-42", "topic": "newsletter", "message_id": "campaign-7"}

# --- recipients -----------------------------------------------------------------------------------------
RECIPIENT_IN = {
    "email": "kim@example.com",
    "phone": "+14155550123",
    "locale": "en-US",
    "time_zone": "America/Los_Angeles",
    "postal_address": {
        "lines": ["1 Market St", "Apt 4"],
        "city": "San Francisco",
        "region": "CA",
        "postal_code": "94105",
        "country": "US",
    },
}
RECIPIENT = {
    "id": "cust-42",
    "email": "kim@example.com",
    "phone": "+14155550123",
    "postal_address": RECIPIENT_IN["postal_address"],
    "locale": "en-US",
    "time_zone": "America/Los_Angeles",
    "status": "active",
    "created_at": CREATED_AT,
    "updated_at": UPDATED_AT,
}
RECIPIENT_CREATED = {**RECIPIENT, "updated_at": CREATED_AT}
DEACTIVATED = {**RECIPIENT, "status": "deactivated"}
REASON = {"reason": "account closed, ticket 881"}


def _cells(reason: str, channels: tuple[str, ...], choice: bool | None = None, allowed: bool = True) -> dict[str, Any]:
    return {channel: {"allowed": allowed, "reason": reason, "choice": choice} for channel in channels}


def _matrix(newsletter_email: dict[str, Any]) -> dict[str, Any]:
    everywhere = ("email", "sms", "phone", "post")
    return {
        "recipient_id": "cust-42",
        "status": "active",
        "all_marketing": "active",
        "channels": {
            "email": {"address": "k***@example.com", "stopped": False},
            "sms": {"address": "+1********23", "stopped": False, "sms_stop": False},
            "phone": {"address": "+1********23", "stopped": False},
            "post": {"address": "***, US", "stopped": False},
        },
        "topics": [
            {
                "key": "billing",
                "name": "Billing",
                "description": "Invoices, receipts and payment reminders.",
                "mandatory": True,
                "channels": _cells("mandatory", everywhere),
            },
            {
                "key": "newsletter",
                "name": "Newsletter",
                "description": "News and stories, once a month.",
                "mandatory": False,
                "channels": {"email": newsletter_email, "sms": {"allowed": False, "reason": "no_consent", "choice": None}},
            },
        ],
    }


MATRIX = _matrix({"allowed": True, "reason": "default", "choice": None})
RECIPIENT_WITH_PREFERENCES = {**RECIPIENT, "preferences": MATRIX}
RECIPIENT_LIST = {"recipients": [RECIPIENT]}
PREFERENCES_PATCH = {
    "changes": [{"topic": "newsletter", "channel": "email", "subscribed": False}],
    "reason": "asked by phone",
}
MATRIX_AFTER_PATCH = _matrix({"allowed": False, "reason": "unsubscribed", "choice": False})

# --- consent events -------------------------------------------------------------------------------------
UNSUBSCRIBED_EVENT = {
    "id": 1184,
    "at": "2026-11-30T16:41:07.093311+00:00",
    "recipient_id": "cust-42",
    "actor": "api",
    "actor_id": "support-desk",
    "via": "api",
    "kind": "topic_choice",
    "topic": "newsletter",
    "channel": "email",
    "before": None,
    "after": False,
    "reason": "asked by phone",
    "evidence": None,
}
CREATED_EVENT = {
    "id": 1023,
    "at": CREATED_AT,
    "recipient_id": "cust-42",
    "actor": "api",
    "actor_id": "crm-sync",
    "via": "api",
    "kind": "recipient_created",
    "topic": None,
    "channel": None,
    "before": None,
    "after": {"status": "active", "email": "kim@example.com", "phone": "+14155550123", "locale": "en-US"},
    "reason": None,
    "evidence": None,
}
ONE_CLICK_EVENT = {
    "id": 1185,
    "at": "2026-11-30T18:02:45.771020+00:00",
    "recipient_id": "cust-9",
    "actor": "recipient",
    "actor_id": None,
    "via": "one_click",
    "kind": "channel_stop",
    "topic": None,
    "channel": "email",
    "before": None,
    "after": False,
    "reason": None,
    "evidence": {"message_id": "campaign-7", "link_minted_by": "mailer"},
}
EVENT_PAGE = {"events": [UNSUBSCRIBED_EVENT, CREATED_EVENT], "next": None}
FEED_PAGE = {"events": [UNSUBSCRIBED_EVENT, ONE_CLICK_EVENT], "next": 1185}
EXPORT = {
    "exported_at": "2026-12-01T08:00:00.412907+00:00",
    "recipient": {**RECIPIENT, "sms_stopped_at": None},
    "preferences": MATRIX_AFTER_PATCH,
    "choices": [{"topic": "newsletter", "channel": "email", "subscribed": False, "updated_at": UNSUBSCRIBED_EVENT["at"]}],
    "suppressed": {"email": False, "phone": False},
    "events": [CREATED_EVENT, UNSUBSCRIBED_EVENT],
    "consents": [],  # CONSENTS["consents"] below, for a person who opted in
    "provider_reports": [],
    "provider_pushes": [],
    "mails": [
        {
            "template": "preference_link",
            "state": "sent",
            "attempts": 1,
            "created_at": "2026-11-30T09:12:03.118201+00:00",
            "updated_at": "2026-11-30T09:12:04.002613+00:00",
        }
    ],
}

# --- topics ---------------------------------------------------------------------------------------------
TOPIC_NAMES = {"es": "Novedades del producto", "de": "Produktneuheiten", "ar": "تحديثات المنتج"}
TOPIC_DESCRIPTIONS = {"es": "Nuevas funciones, como máximo dos veces al mes.", "ar": "ميزات جديدة، مرتين في الشهر على الأكثر."}
TOPIC_IN = {
    "key": "product-updates",
    "name": "Product updates",
    "description": "New features, at most twice a month.",
    "channels": ["email", "sms"],
    "default_subscribed": {"email": True},
    "names": TOPIC_NAMES,
    "descriptions": TOPIC_DESCRIPTIONS,
}
TOPIC = {
    "key": "product-updates",
    "name": "Product updates",
    "description": "New features, at most twice a month.",
    "mandatory": False,
    "channels": ["email", "sms"],
    "default_subscribed": {"email": True, "sms": False},
    "archived": False,
    "names": {"es": "Novedades del producto", "de": "Produktneuheiten", "ar": "تحديثات المنتج"},
    "descriptions": TOPIC_DESCRIPTIONS,
    "confirmation": "single",
}
TOPIC_PATCH = {
    "channels": ["email", "sms", "post"],
    "default_subscribed": {"email": True, "post": True},
    "names": {**TOPIC_NAMES, "fr": "Nouveautés produit"},
}
TOPIC_PATCHED = {
    **TOPIC,
    "channels": ["email", "sms", "post"],
    "default_subscribed": {"email": True, "sms": False, "post": True},
    "names": {"es": "Novedades del producto", "fr": "Nouveautés produit", "de": "Produktneuheiten", "ar": "تحديثات المنتج"},
}
TOPIC_ARCHIVED = {**TOPIC, "archived": True}
TOPIC_LIST = {
    "topics": [
        {
            "key": "billing",
            "name": "Billing",
            "description": "Invoices, receipts and payment reminders.",
            "mandatory": True,
            "channels": ["email", "sms", "phone", "post"],
            "default_subscribed": {"email": True, "sms": True, "phone": True, "post": True},
            "archived": False,
            "names": {"es": "Facturación", "fr": "Facturation", "de": "Rechnungen"},
            "descriptions": {},
            "confirmation": "single",
        },
        {
            "key": "newsletter",
            "name": "Newsletter",
            "description": "News and stories, once a month.",
            "mandatory": False,
            "channels": ["email", "sms"],
            "default_subscribed": {"email": True, "sms": False},
            "archived": False,
            "names": {},
            "descriptions": {},
            "confirmation": "single",
        },
    ]
}

# --- webhooks -------------------------------------------------------------------------------------------
WEBHOOK_IN = {"url": "https://crm.example.com/hooks/prefs", "events": ["*"], "description": "CRM sync"}
WEBHOOK = {
    "id": 3,
    "url": "https://crm.example.com/hooks/prefs",
    "description": "CRM sync",
    "events": ["*"],
    "enabled": True,
    "disabled_reason": None,
    "failing_since": None,
    "created_at": CREATED_AT,
    "updated_at": CREATED_AT,
}
WEBHOOK_CREATED = {**WEBHOOK, "secret": "whsec_zHHEFBykUeA8cLlN3qPszepE50YwW1dI1xh2jix1ras="}
WEBHOOK_PATCH = {"events": ["preference.updated", "suppression.added", "suppression.removed"]}
WEBHOOK_PATCHED = {**WEBHOOK, "events": WEBHOOK_PATCH["events"], "updated_at": UPDATED_AT}
WEBHOOK_LIST = {"webhooks": [WEBHOOK]}
WEBHOOK_SECRET = {"secret": "whsec_7R7Pd2tJQXqFSHJ+ToioKJjdRRRf/HHImNaHsdnuLXM="}
DELIVERIES = {
    "deliveries": [
        {
            "message_id": "evt_1185",
            "type": "preference.updated",
            "event_id": 1185,
            "at": "2026-11-30T18:02:46.120334+00:00",
            "status_code": 204,
            "error": None,
            "duration_ms": 83,
            "delivery_status": "delivered",
            "attempt": 2,
        },
        {
            "message_id": "evt_1185",
            "type": "preference.updated",
            "event_id": 1185,
            "at": "2026-11-30T18:02:45.980112+00:00",
            "status_code": 503,
            "error": "HTTP 503",
            "duration_ms": 41,
            "delivery_status": "delivered",
            "attempt": 1,
        },
    ]
}
REPLAY = {"after": 1100}
REPLAYED = {"queued": 85, "last_event_id": 1185}

SYNC_RECEIPTS = {
    "recipient_id": "cust-42",
    "targets": {
        "sendgrid": {"state": "done", "action": "suppress", "attempts": 1, "last_error": None,
                     "at": "2026-11-30T16:40:12.031877+00:00", "next_attempt_at": None, "reported_here": False},
        "ses": {"state": "failed", "action": "suppress", "attempts": 1, "last_error": "HTTP 429 TooManyRequestsException",
                "at": "2026-11-30T16:40:13.120448+00:00", "next_attempt_at": "2026-11-30T16:40:18.305117+00:00",
                "reported_here": False},
    },
}  # fmt: skip

# --- subscriptions, notices and consent records (SPEC §14) -------------------------------------------------
SUBSCRIPTION_IN = {
    "email": "lee@example.com",
    "locale": "de",
    "topics": ["product-updates"],
    "channel": "email",
    "evidence": {
        "source": "footer signup form",
        "collected_at": "2026-11-30T14:05:00Z",
        "notice": "newsletter-signup",
        "url": "https://www.example.com/",
        "ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    },
}
SUBSCRIPTION_IN_KNOWN = {
    "recipient_id": "cust-42",
    "topics": ["newsletter"],
    "channel": "sms",
    "evidence": {"source": "checkout checkbox", "notice": "checkout-texts"},
}
SUBSCRIPTION = {
    "recipient_id": "sub-5f0c9a3e1b7d24c68e90a1f2",
    "created": True,
    "channel": "email",
    "subscribed": [],
    "pending": ["product-updates"],
    "expires_at": "2026-12-07T14:05:02.311208+00:00",
}
NOTICE_IN = {
    "key": "newsletter-signup",
    "text": "Send me product updates by email. I can unsubscribe at any time.",
    "language": "en",
}
NOTICE = {
    "key": "newsletter-signup",
    "version": 2,
    "text": NOTICE_IN["text"],
    "language": "en",
    "created_at": UPDATED_AT,
    "created_by": "marketing-admin",
}
NOTICE_V1 = {**NOTICE, "version": 1, "text": "Send me product updates by email.", "created_at": CREATED_AT}
NOTICE_LIST = {"notices": [{**NOTICE, "versions": 2}]}
NOTICE_VERSIONS = {"key": "newsletter-signup", "versions": [NOTICE, NOTICE_V1]}
CONSENTS = {
    "consents": [
        {
            "record_id": "3c5c0b53-7f43-5b1e-9b0f-6a3e1e2d9c41",
            "pii_principal_id": "cust-42",
            "controller": "Acme Energy",
            "purpose": "product-updates",
            "purpose_name": "Product updates",
            "channel": "email",
            "state": "active",
            "notice": {"key": "newsletter-signup", "version": 2, "text": NOTICE_IN["text"], "language": "en"},
            "language": "en",
            "jurisdiction": "US",
            "withdrawal_method": PREFERENCES_URL,
            "events": [
                {
                    "at": "2026-11-30T14:05:00+00:00",
                    "type": "given",
                    "method": "api",
                    "source": "footer signup form",
                    "ip": "203.0.113.7",
                    "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
                    "actor": "api",
                    "event_id": 1201,
                },
                {
                    "at": "2026-11-30T14:09:41.520117+00:00",
                    "type": "confirmed",
                    "method": "confirm_page",
                    "source": "footer signup form",
                    "ip": "198.51.100.23",
                    "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
                    "actor": "recipient",
                    "event_id": 1204,
                },
            ],
        }
    ]
}

# --- hosted subscribe forms (api/forms.py) -------------------------------------------------------------
FORM_IN = {
    "key": "product-news",
    "title": "Product news from Acme",
    "topics": ["product-updates"],
    "notice": "newsletter-signup",
    "thanks": "Thank you! Check your inbox for the confirmation link.",
}
FORM = {
    **FORM_IN,
    "channel": "email",
    "url": "https://prefs.example.com/s/product-news",
    "created_at": CREATED_AT,
    "updated_at": CREATED_AT,
}
FORM_PATCH = {"title": "Acme product news, once a month"}
FORM_PATCHED = {**FORM, **FORM_PATCH, "updated_at": UPDATED_AT}
FORM_LIST = {"forms": [FORM]}

# --- insights (issue 19) --------------------------------------------------------------------------------
STATS = {
    "from": "2026-11-01",
    "to": "2026-11-30",
    "group_by": ["message_id"],
    "rows": [
        {"key": {"message_id": "campaign-7"}, "opt_outs": 41, "opt_ins": 2, "suppressions": 0, "bounces": 0, "complaints": 0},
        {"key": {"message_id": "campaign-9"}, "opt_outs": 17, "opt_ins": 0, "suppressions": 0, "bounces": 0, "complaints": 0},
        {"key": {"message_id": None}, "opt_outs": 23, "opt_ins": 65, "suppressions": 12, "bounces": 9, "complaints": 3},
    ],
    "truncated": False,
    "totals": {"opt_outs": 81, "opt_ins": 67, "suppressions": 12, "bounces": 9, "complaints": 3},
    "active_recipients": {"email": 9120, "sms": 2210, "phone": 1890, "post": 640},
}
STATS_BY_DAY_AND_CHANNEL = {
    "from": "2026-11-29",
    "to": "2026-11-30",
    "group_by": ["day", "channel"],
    "rows": [
        {
            "key": {"day": "2026-11-29", "channel": None},
            "opt_outs": 1,
            "opt_ins": 0,
            "suppressions": 4,
            "bounces": 0,
            "complaints": 0,
        },
        {
            "key": {"day": "2026-11-29", "channel": "email"},
            "opt_outs": 12,
            "opt_ins": 3,
            "suppressions": 0,
            "bounces": 2,
            "complaints": 1,
        },
        {
            "key": {"day": "2026-11-30", "channel": "email"},
            "opt_outs": 9,
            "opt_ins": 1,
            "suppressions": 0,
            "bounces": 0,
            "complaints": 0,
        },
        {
            "key": {"day": "2026-11-30", "channel": "sms"},
            "opt_outs": 2,
            "opt_ins": 0,
            "suppressions": 0,
            "bounces": 0,
            "complaints": 0,
        },
    ],
    "truncated": False,
    "totals": {"opt_outs": 24, "opt_ins": 4, "suppressions": 4, "bounces": 2, "complaints": 1},
    "active_recipients": {"email": 9120, "sms": 2210, "phone": 1890, "post": 640},
}
