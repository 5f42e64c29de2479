"""Whose a shop's webhook is: the contact with the email (their id or their email, any case), else the
phone (E.164); a customer not known yet becomes a contact whose id is the email in lower case (else
the phone), as the order import does (app/engine/order_import.py), so a webhook and an export of the
same shop land on the same contact. A shop's own customer id is never the contact: WooCommerce gives
every guest `customer_id` 0, and two guests must never become one contact.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from app.engine.identities import email_or_problem, phone_or_problem
from app.engine.ingest import EventIn
from app.engine.segment import IDENTIFY
from app.store.tables import contact_channels, contacts


ID_LENGTH = int(getattr(contacts.c.id.type, "length", None) or 200)
"""Characters a contact id may have (an email may have up to 254: a longer one names a contact, never
becomes one's id)."""


class Unusable(ValueError):
    """A request that was accepted but cannot be applied: it goes to the dead-letter list with this reason."""


@dataclass
class Person:
    """Who a webhook names, as read from it (email and phone checked, names as given)."""
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    tags: str | None = None

    def traits(self) -> dict[str, Any]:
        found = {"email": self.email, "phone": self.phone, "first_name": self.first_name,
                 "last_name": self.last_name, "tags": self.tags}
        return {k: v for k, v in found.items() if v}


def text(value: Any) -> str | None:
    """A value as stripped text; None for nothing, or for what is not text or a number."""
    if value is None or isinstance(value, (bool, dict, list)):
        return None
    found = str(value).strip()
    return found or None


def object_at(data: dict[str, Any], name: str) -> dict[str, Any]:
    """`data[name]` when it is a JSON object, else an empty one (absent, null)."""
    found = data.get(name)
    return found if isinstance(found, dict) else {}


def person(email: Any, phone: Any, first: Any = None, last: Any = None, country: Any = None,
           tags: Any = None) -> Person:
    """A Person from a webhook's fields; a malformed email or phone is left out (the other may do)."""
    found_email, _ = email_or_problem(text(email) or "")
    found_phone, _ = phone_or_problem(text(phone) or "", text(country))
    return Person(found_email.lower() if found_email else None, found_phone,
                  (text(first) or "")[:100] or None, (text(last) or "")[:100] or None, text(tags))


def contact_of(conn: Connection, who: Person, what: str) -> str:
    """The contact id for `who` (see the module's docstring); raises Unusable when it names neither an
    email nor a phone. `what` names the request in that reason ("checkout 123")."""
    if who.email:
        found = conn.execute(select(contacts.c.id).where(contacts.c.id == who.email)).scalar()
        found = found or conn.execute(select(contacts.c.id).where(func.lower(contacts.c.email) == who.email)
                                      .order_by(contacts.c.id).limit(1)).scalar()
        if found:
            return str(found)
    if who.phone:
        found = conn.execute(select(contacts.c.id).where(contacts.c.phone == who.phone)
                             .order_by(contacts.c.id).limit(1)).scalar()
        if found:
            return str(found)
    if who.email and len(who.email) <= ID_LENGTH:
        return who.email
    if who.phone:
        return who.phone
    if who.email:
        raise Unusable(f"{what} names only the email {who.email[:40]}…, which is longer than the {ID_LENGTH} "
                       "characters a new contact's id may have; add the contact (with an id of its own) first")
    raise Unusable(f"{what} names no usable email or phone, so whose it is cannot be told")


def identify(contact: str, who: Person, at: Any, key: str) -> EventIn:
    """The identify record that keeps the contact's email, phone, names and tags as the shop has them."""
    return EventIn(contact, IDENTIFY, at, who.traits(), key)


def consent_state(conn: Connection, contact: str, channel: str) -> str | None:
    """The contact's recorded consent on `channel` (subscribed/unsubscribed), None when unknown."""
    return conn.execute(select(contact_channels.c.state).where(
        contact_channels.c.contact_id == contact, contact_channels.c.channel == channel)).scalar()
