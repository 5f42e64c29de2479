"""A small shop for the delivery tests: a database file with a cart-abandonment journey (an email step and an
SMS step), three contacts, one abandoned cart, and a channel that records what it was given."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy.engine import Engine

from app.delivery.base import Outgoing, Sent
from app.engine.importers import parse_contacts
from app.engine.contact_import import import_contacts
from app.journey.fileformat import to_document
from app.store.db import open_database
from app.store.journeys import JourneyStore
from app.store.tables import events, messages
from tests.engine.helpers import CONTACTS, chain, send_node, simple_journey

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc)

CART_HTML = ("<p>Hi {{ contact.first_name }},</p><ul>{% for item in event.items %}<li>{{ item.name }}</li>"
             "{% endfor %}</ul><a href=\"{{ event.cart_url }}\">Back to your cart</a>")


@dataclass
class Shop:
    db: Engine
    url: str
    journey_id: str
    email_step: str
    sms_step: str


def make_shop(path: str, *, missing: str = "fallback") -> Shop:
    db = open_database(path)
    journey = simple_journey("Cart rescue")
    email = send_node(journey, subject="{{ contact.first_name }}, your cart ({{ event.items | length }} items)",
                      html=CART_HTML, text="Back to your cart: {{ event.cart_url }}", missing=missing,
                      fallback="friend")
    email.name = "Cart email"
    sms = send_node(journey, channel="sms", subject="{{ contact.first_name }}: {{ event.coupon }} off your cart",
                    missing=missing, fallback="10%")
    sms.name = "Cart SMS"
    chain(journey, journey.trigger(), email, sms)
    row = JourneyStore(db).create(to_document(journey))
    rows, _ = parse_contacts(CONTACTS)
    import_contacts(db, rows, NOW)
    with db.begin() as conn:
        conn.execute(events.insert().values(
            contact_id="ann", type="cart_abandoned", occurred_at=NOW, received_at=NOW, idempotency_key="e1",
            properties={"cart_url": "https://shop.example/c/ann", "items": [{"name": "Blue mug"}], "coupon": "MUG5"}))
    return Shop(db, path, row.id, email.id, sms.id)


def add_message(db: Engine, key: str, status: str, **values: Any) -> int:
    row = dict(idempotency_key=key, channel="email", recipient="ann@example.com", subject="Your cart",
               body_text="Hi", status=status, created_at=NOW, scheduled_at=NOW, contact_id="ann",
               error="no answer after the message was handed over" if status == "unknown" else None, attempts=1)
    row.update(values)
    with db.begin() as conn:
        return int(conn.execute(messages.insert().values(**row)).inserted_primary_key[0])


@dataclass
class RecordingChannel:
    """A channel that keeps what it is given (the real ones come from other modules)."""

    sent: list[Outgoing] = field(default_factory=list)
    closed: int = 0

    def send(self, message: Outgoing) -> Sent:
        self.sent.append(message)
        return Sent(f"<test-{len(self.sent)}@shop.example>")

    def close(self) -> None:
        self.closed += 1
