"""Reading contacts for people: search by id, email or name, and one contact's detail with its consent history.

Used by `journeys contacts show` and the app's Contacts dialog. Each call is a
few short indexed reads; nothing here writes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, String, case, cast, func, or_, select
from sqlalchemy.engine import Engine

from app.store.tables import consent_changes, contact_channels, contact_tags, contacts

CONSENT_CHANNELS = ("email", "sms", "whatsapp")
FIELDS = ("email", "phone", "first_name", "last_name", "timezone", "lifetime_spend", "order_count", "last_order_at",
          "created_at", "updated_at")


@dataclass(frozen=True)
class ContactSummary:
    id: str
    email: str | None
    phone: str | None
    name: str              # first and last name, "" when neither is known


@dataclass(frozen=True)
class ConsentNow:
    channel: str
    state: str                     # subscribed | unsubscribed | unknown
    changed_at: datetime | None    # None when unknown (never recorded)
    source: str                    # "" when unknown


@dataclass(frozen=True)
class ConsentEntry:
    at: datetime
    channel: str
    state: str
    previous: str
    source: str


@dataclass
class ContactDetail:
    id: str
    fields: dict[str, Any]
    attributes: dict[str, Any]
    tags: list[str]
    consent: list[ConsentNow]                              # one per channel, in CONSENT_CHANNELS order
    history: list[ConsentEntry] = field(default_factory=list)   # newest first

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.fields.get("first_name"), self.fields.get("last_name")) if p)


def _name(first: str | None, last: str | None) -> str:
    return " ".join(p for p in (first, last) if p)


def matching(query: Select[Any], text: str) -> Select[Any]:
    """`query` (over `contacts`) narrowed to contacts whose id, email, phone or name contains each word
    of `text`, case-insensitive: "emma wil" finds Emma Wilson."""
    c = contacts.c
    for word in text.strip().lower().split():
        # `%` and `_` are searched for as themselves (ids like shop_17, emails like ann_lee@…), not as wildcards.
        like = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(*(func.lower(cast(col, String)).like(like, escape="\\")
                                  for col in (c.id, c.email, c.phone, c.first_name, c.last_name))))
    return query


def find_contacts(db: Engine, text: str = "", limit: int = 200) -> list[ContactSummary]:
    """Contacts whose id, email, phone or name contains each word of `text` (case-insensitive, `_` and
    `%` literally), the one whose id is `text` first, then by id; at most `limit`."""
    c = contacts.c
    # The contact whose id is exactly the text first (opening "cus_42"'s timeline shows cus_42 even
    # when hundreds of others contain it), then by id.
    order = [case((c.id == text.strip(), 0), else_=1), c.id] if text.strip() else [c.id]
    query = select(c.id, c.email, c.phone, c.first_name, c.last_name).order_by(*order).limit(limit)
    query = matching(query, text)
    with db.connect() as conn:
        return [ContactSummary(r.id, r.email, r.phone, _name(r.first_name, r.last_name)) for r in conn.execute(query)]


def contact_detail(db: Engine, contact_id: str) -> ContactDetail | None:
    """The contact's fields, custom attributes, tags, consent per channel now and its consent history
    (newest first); None when there is no such contact."""
    with db.connect() as conn:
        row = conn.execute(select(contacts).where(contacts.c.id == contact_id)).first()
        if row is None:
            return None
        m = row._mapping
        tags = sorted(conn.execute(select(contact_tags.c.tag).where(contact_tags.c.contact_id == contact_id))
                      .scalars())
        ch = contact_channels.c
        now = {r.channel: r for r in conn.execute(select(ch.channel, ch.state, ch.changed_at, ch.source)
                                                  .where(ch.contact_id == contact_id))}
        h = consent_changes.c
        history = [ConsentEntry(r.at, r.channel, r.state, r.previous, r.source) for r in conn.execute(
            select(h.at, h.channel, h.state, h.previous, h.source).where(h.contact_id == contact_id)
            .order_by(h.id.desc()))]   # the order they were made in
    consent = [ConsentNow(c, now[c].state, now[c].changed_at, now[c].source) if c in now
               else ConsentNow(c, "unknown", None, "") for c in CONSENT_CHANNELS]
    fields = {k: m[k] for k in FIELDS}
    if fields["lifetime_spend"] is not None:
        fields["lifetime_spend"] = float(fields["lifetime_spend"])
    return ContactDetail(m["id"], fields, dict(m["attributes"] or {}), tags, consent, history)
