"""The database schema as SQLAlchemy Core tables.

Core rather than ORM: the engine advances runs in batches with plain
INSERT/UPDATE statements. Any change here needs a new migration in
``migrations/versions`` (a test compares the two).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)

from app.store.types import JSONDoc, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Deterministic constraint names, so SQLite batch migrations can find them."""

metadata = MetaData(naming_convention=NAMING_CONVENTION)

JOURNEY_STATUSES = ("draft", "active", "paused", "stopped")
CHANNELS = ("email", "sms", "whatsapp")
RUN_STATUSES = ("active", "converted", "exited", "completed")
RUN_ACTIONS = (
    "entered", "sent", "skipped", "deferred", "waited", "branched", "tagged",
    "goal", "converted", "exited", "completed", "failed",
)  # fmt: skip

# 64-bit ids on PostgreSQL; on SQLite only INTEGER PRIMARY KEY autoincrements.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def _stamp(name: str, nullable: bool = False) -> Column[Any]:
    return Column(name, UTCDateTime(), nullable=nullable)


def _doc(name: str) -> Column[Any]:
    """A NOT NULL JSON object column that defaults to ``{}``."""
    return Column(name, JSONDoc, nullable=False, default=lambda: {})


journeys = Table(
    "journeys",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=True),
    Column("status", String(16), nullable=False, server_default=text("'draft'")),
    Column("draft", JSONDoc, nullable=False),
    Column("published_version", Integer, nullable=True),
    _stamp("created_at"),
    _stamp("updated_at"),
    UniqueConstraint("name"),
    CheckConstraint(
        "status IN ('draft', 'active', 'paused', 'stopped')", name="status"
    ),
)

journey_versions = Table(
    "journey_versions",
    metadata,
    Column("journey_id", String(36), ForeignKey("journeys.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("document", JSONDoc, nullable=False),
    _stamp("published_at"),
    PrimaryKeyConstraint("journey_id", "version"),
)

contacts = Table(
    "contacts",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("email", String(320), nullable=True),
    Column("phone", String(32), nullable=True),
    Column("first_name", String(100), nullable=True),
    Column("last_name", String(100), nullable=True),
    Column("timezone", String(64), nullable=True),
    _doc("attributes"),
    Column("lifetime_spend", Numeric(14, 2), nullable=False, server_default=text("0")),
    Column("order_count", Integer, nullable=False, server_default=text("0")),
    _stamp("last_order_at", nullable=True),
    _stamp("created_at"),
    _stamp("updated_at"),
    Index(None, "last_order_at"),
    Index("ix_contacts_phone", "phone"),                 # importers match contacts by phone (0018)
)
# … and by email however capitalised (an expression index, so declared beside the table).
Index("ix_contacts_email_lower", func.lower(contacts.c.email))

contact_tags = Table(
    "contact_tags",
    metadata,
    Column("contact_id", String(200), ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    Column("tag", String(100), nullable=False),
    PrimaryKeyConstraint("contact_id", "tag"),
    Index(None, "tag"),
)

contact_channels = Table(
    "contact_channels",
    metadata,
    Column("contact_id", String(200), ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("state", String(16), nullable=False),       # subscribed | unsubscribed; no row: unknown
    _stamp("changed_at"),
    Column("source", String(300), nullable=False),      # what set it: "import:contacts.csv line 7", "event:…"
    PrimaryKeyConstraint("contact_id", "channel"),
    CheckConstraint("state IN ('subscribed', 'unsubscribed')", name="state"),
)
"""A contact's consent per channel now: one row per channel with a recorded state (see consent_changes)."""

consent_changes = Table(
    "consent_changes",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("contact_id", String(200), ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("state", String(16), nullable=False),        # the state it became: subscribed | unsubscribed | unknown
    Column("previous", String(16), nullable=False),     # the state before
    _stamp("at"),
    Column("source", String(300), nullable=False),
    Index(None, "contact_id", "at"),
)
"""Every change of consent, never updated or deleted (but with its contact): the audit trail."""

events = Table(
    "events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("contact_id", String(200), ForeignKey("contacts.id"), nullable=False),
    Column("type", String(100), nullable=False),
    _stamp("occurred_at"),
    _stamp("received_at"),
    _doc("properties"),
    # What makes a repeated delivery the same event (app/store/event_keys.py); NULL only on rows
    # stored before keys existed. Unique: storing an event twice keeps one row.
    Column("idempotency_key", String(255), nullable=True),
    Index(None, "contact_id", "occurred_at"),
    Index(None, "type", "occurred_at"),
    Index(None, "idempotency_key", unique=True),
)

runs = Table(
    "runs",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("journey_id", String(36), ForeignKey("journeys.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("contact_id", String(200), ForeignKey("contacts.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("exit_reason", String(32), nullable=True),
    Column("node_id", String(36), nullable=True),
    _stamp("due_at", nullable=True),
    _stamp("entered_at"),
    _stamp("updated_at"),
    Column("trigger_event_id", BigId, ForeignKey("events.id"), nullable=True),
    _doc("state"),
    Index(None, "status", "due_at"),
    Index(None, "journey_id", "contact_id"),
    # Active runs per step ("waiting now") read from the index alone, without visiting finished runs;
    # due_at: "Who is here?" pages through them in the order they move on (migration 0014).
    Index(None, "journey_id", "status", "node_id", "due_at"),
    Index(None, "contact_id", "status"),
)

run_log = Table(
    "run_log",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("run_id", BigId, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("journey_id", String(36), nullable=False),
    Column("node_id", String(36), nullable=True),
    Column("contact_id", String(200), nullable=False),
    _stamp("at"),
    Column("action", String(16), nullable=False),
    Column("outcome", String(32), nullable=True),
    Column("reason", String(64), nullable=True),
    Column("detail", JSONDoc, nullable=True),
    Column("revenue", Numeric(14, 2), nullable=True),
    Index(None, "journey_id", "at"),
    Index(None, "run_id"),
    Index(None, "contact_id", "at"),                        # a contact's timeline (migration 0014)
    Index(None, "journey_id", "node_id", "outcome", "at"),  # "Who went this way?" (migration 0014)
)

messages = Table(
    "messages",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(100), nullable=False),
    Column("run_id", BigId, ForeignKey("runs.id"), nullable=True),
    Column("journey_id", String(36), nullable=True),
    Column("node_id", String(36), nullable=True),
    Column("contact_id", String(200), nullable=True),
    Column("channel", String(16), nullable=False),
    Column("recipient", String(320), nullable=False),
    Column("sender", String(320), nullable=True),
    Column("subject", Text, nullable=True),
    Column("body_text", Text, nullable=True),
    Column("body_html", Text, nullable=True),
    Column("status", String(16), nullable=False),
    _stamp("scheduled_at", nullable=True),
    _stamp("created_at"),
    _stamp("sent_at", nullable=True),
    _stamp("delivered_at", nullable=True),
    _stamp("opened_at", nullable=True),
    _stamp("clicked_at", nullable=True),
    _stamp("replied_at", nullable=True),
    _stamp("failed_at", nullable=True),
    _stamp("unsubscribed_at", nullable=True),
    Column("error", Text, nullable=True),
    # Delivery (migration 0013): the dispatcher's lease, retries and what the provider said.
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("claim", String(36), nullable=True),           # the lease holder's token while `sending`
    _stamp("lease_until", nullable=True),
    Column("provider_id", String(200), nullable=True),    # SMTP Message-ID, Twilio SID, Meta wamid
    Column("error_code", String(32), nullable=True),      # the provider's code: "550", "21610", "131026"
    Column("reply_to", String(320), nullable=True),
    Column("whatsapp_template", JSONDoc, nullable=True),  # {"name", "language", "variables": [text, …]}
    _stamp("status_checked_at", nullable=True),           # the last status poll (Twilio)
    UniqueConstraint("idempotency_key"),
    Index(None, "provider_id"),
    Index(None, "status", "scheduled_at"),
    Index(None, "contact_id", "created_at"),
    Index(None, "journey_id", "node_id"),
    Index(None, "run_id"),
)

attribute_catalog = Table(
    "attribute_catalog",
    metadata,
    Column("scope", String(100), nullable=False),
    Column("name", String(200), nullable=False),
    PrimaryKeyConstraint("scope", "name"),
)

scan_cursors = Table(
    "scan_cursors",
    metadata,
    Column("journey_id", String(36), ForeignKey("journeys.id", ondelete="CASCADE"), nullable=False),
    _stamp("scanned_at"),
    PrimaryKeyConstraint("journey_id"),
)


dead_events = Table(
    "dead_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    # Unbounded text: the values that made the event unusable may be what would not fit elsewhere.
    Column("idempotency_key", Text, nullable=False),
    Column("contact_id", Text, nullable=False),
    Column("type", Text, nullable=False),
    _stamp("occurred_at", nullable=True),
    _stamp("received_at"),
    Column("payload", Text, nullable=False),        # the event as JSON, escaped to ASCII
    Column("reason", Text, nullable=False),         # one line: why it could not be applied
    Index(None, "idempotency_key", unique=True),
    Index(None, "received_at"),
)
"""Events that could not be applied (app/engine/ingest.py), kept whole with the reason."""


intake_requests = Table(
    "intake_requests",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("source", String(32), nullable=False),       # segment | shopify | woocommerce | twilio | meta | link
    Column("topic", String(100), nullable=False),       # track, checkouts/create, order.created, status, click…
    # The sender's idempotency key (app/intake/inbox.py): a repeated delivery is one row.
    Column("idempotency_key", String(255), nullable=False),
    _stamp("received_at"),
    Column("payload", Text, nullable=False),             # the request's JSON as accepted
    Column("status", String(8), nullable=False),        # new | done | dead
    Column("reason", Text, nullable=True),              # why it is dead (one line)
    _stamp("applied_at", nullable=True),
    Column("attempts", Integer, nullable=False),
    CheckConstraint("status IN ('new', 'done', 'dead')", name="status"),
    Index(None, "idempotency_key", unique=True),
    Index(None, "status", "id"),
)
"""The receiver's inbox (app/intake): each accepted request, written before it was answered 2xx."""

app_settings = Table(
    "app_settings",
    metadata,
    Column("key", String(64), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("key"),
)
"""App-wide settings by key, such as the business's time zone (see app/store/app_settings.py)."""


def _counts(name: str, *period: Column[Any]) -> Table:
    """Statistics counters, added to inside the engine's own transactions (see app/engine/counts.py)."""
    return Table(
        name,
        metadata,
        Column("journey_id", String(36), ForeignKey("journeys.id", ondelete="CASCADE"), nullable=False),
        *period,
        Column("node_id", String(36), nullable=False),      # "" for the journey as a whole
        Column("metric", String(32), nullable=False),       # a run_log action, "reached", or a message status
        Column("label", String(64), nullable=False),        # the reason or outcome, "" when none
        Column("count", BigInteger, nullable=False),
        Column("revenue", Numeric(14, 2), nullable=False),
        PrimaryKeyConstraint("journey_id", *(c.name for c in period), "node_id", "metric", "label"),
    )


step_counts = _counts("step_counts")
"""All-time counts per journey, step, metric and label: what the canvas polls, a few dozen rows."""

step_counts_hourly = _counts("step_counts_hourly", _stamp("hour"))
"""The same counts per UTC hour, for statistics over a chosen time range."""


engine_lease = Table(
    "engine_lease",
    metadata,
    Column("name", String(32), nullable=False),             # "engine": one row per database
    Column("holder", String(36), nullable=False),           # a uuid per process (app window or service)
    Column("kind", String(16), nullable=False),             # "service" or "app"
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    _stamp("acquired_at"),
    _stamp("heartbeat_at"),
    _stamp("expires_at"),
    PrimaryKeyConstraint("name"),
)
"""Who runs the engine's jobs on this database (app/store/lease.py): one holder at a time, kept by a
heartbeat; a holder that stops beating is replaced once `expires_at` has passed."""


connections = Table(
    "connections",
    metadata,
    Column("id", String(200), nullable=False),           # "shopify:corner.myshopify.com"
    Column("kind", String(16), nullable=False),          # shopify | woocommerce
    Column("address", String(300), nullable=False),      # the shop's domain or the store's URL
    Column("phase", String(16), nullable=False),         # history (first import not finished) | live
    Column("options", JSONDoc, nullable=False, default=lambda: {}),   # poll interval, API version
    _stamp("created_at"),
    _stamp("last_poll_at", nullable=True),
    _stamp("last_ok_at", nullable=True),
    Column("last_error", Text, nullable=True),
    _stamp("last_error_at", nullable=True),
    Column("received", BigInteger, nullable=False, server_default=text("0")),   # events stored so far
    PrimaryKeyConstraint("id"),
    CheckConstraint("kind IN ('shopify', 'woocommerce')", name="kind"),
    CheckConstraint("phase IN ('history', 'live')", name="phase"),
)
"""Shops polled for orders, customers and checkouts (app/connectors); their secrets live in the keyring."""

connection_cursors = Table(
    "connection_cursors",
    metadata,
    Column("connection_id", String(200), ForeignKey("connections.id", ondelete="CASCADE"), nullable=False),
    Column("resource", String(32), nullable=False),      # orders | customers | checkouts
    Column("cursor", JSONDoc, nullable=False, default=lambda: {}),
    _stamp("updated_at"),
    PrimaryKeyConstraint("connection_id", "resource"),
)
"""Where each connector's poll of a resource stands; written in the transaction of the events it covers."""
