"""The two mandatory topics the service makes itself (migration 0001) in the pages' other languages

Every recipient page is in each of its languages (SPEC §16), and a topic's name there comes from its `names`
and `descriptions`; the built-in ones had none, so "Billing" showed in English on every page. Filled only where
an admin has not changed the topic's wording or given translations of their own.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 14:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# Frozen here rather than imported: a migration must mean the same thing forever. (English as in 0001.)
BUILT_IN = {
    "service": (
        "Service messages",
        "Messages about your account and the service you use, such as security alerts.",
        {
            "es": ("Mensajes del servicio", "Mensajes sobre su cuenta y el servicio que usa, como alertas de seguridad."),
            "fr": (
                "Messages de service",
                "Messages concernant votre compte et le service que vous utilisez, comme les alertes de sécurité.",
            ),
            "de": ("Servicenachrichten", "Nachrichten zu Ihrem Konto und dem Dienst, den Sie nutzen, etwa Sicherheitswarnungen."),
            "pt-BR": ("Mensagens de serviço", "Mensagens sobre sua conta e o serviço que você usa, como alertas de segurança."),
            "hi": ("सेवा संदेश", "आपके खाते और आपकी इस्तेमाल की जाने वाली सेवा के बारे में संदेश, जैसे सुरक्षा चेतावनियाँ।"),
            "ar": ("رسائل الخدمة", "رسائل حول حسابك والخدمة التي تستخدمها، مثل تنبيهات الأمان."),
        },
    ),
    "billing": (
        "Billing",
        "Invoices, receipts and payment reminders.",
        {
            "es": ("Facturación", "Facturas, recibos y recordatorios de pago."),
            "fr": ("Facturation", "Factures, reçus et rappels de paiement."),
            "de": ("Abrechnung", "Rechnungen, Quittungen und Zahlungserinnerungen."),
            "pt-BR": ("Cobrança", "Faturas, recibos e lembretes de pagamento."),
            "hi": ("बिलिंग", "चालान, रसीदें और भुगतान अनुस्मारक।"),
            "ar": ("الفواتير", "الفواتير والإيصالات وتذكيرات الدفع."),
        },
    ),
}

# Nodes still serving while the deploy migrates cache the catalogue; a change to topic rows bumps its generation
# (as prefs/db/generations.py does), so that they read it again within a second rather than at their TTL.
BUMP_TOPICS = sa.text("UPDATE cache_generations SET generation = generation + 1 WHERE name = 'topics'")

topics = sa.table(
    "topics",
    sa.column("key", sa.String),
    sa.column("name", sa.String),
    sa.column("description", sa.Text),
    sa.column("names", sa.JSON),
    sa.column("descriptions", sa.JSON),
)


def upgrade():
    connection = op.get_bind()
    for key, (name, description, translated) in BUILT_IN.items():
        row = connection.execute(
            sa.select(topics.c.name, topics.c.description, topics.c.names, topics.c.descriptions).where(topics.c.key == key)
        ).first()
        if row is None or (row.name, row.description) != (name, description) or row.names or row.descriptions:
            continue  # gone, reworded or translated by an admin: theirs stands
        connection.execute(
            topics.update()
            .where(topics.c.key == key)
            .values(
                names={tag: words[0] for tag, words in translated.items()},
                descriptions={tag: words[1] for tag, words in translated.items()},
            )
        )
    connection.execute(BUMP_TOPICS)


def downgrade():
    connection = op.get_bind()
    for key, (_name, _description, translated) in BUILT_IN.items():
        names = {tag: words[0] for tag, words in translated.items()}
        descriptions = {tag: words[1] for tag, words in translated.items()}
        row = connection.execute(sa.select(topics.c.names, topics.c.descriptions).where(topics.c.key == key)).first()
        if row is not None and (row.names, row.descriptions) == (names, descriptions):  # still ours, both
            connection.execute(topics.update().where(topics.c.key == key).values(names={}, descriptions={}))
    connection.execute(BUMP_TOPICS)
