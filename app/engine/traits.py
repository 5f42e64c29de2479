"""Identify calls applied to contacts: what a Segment `identify` says about a person, kept on them.

An identify is not an event: it starts, ends and counts nothing. Its email, phone, names and time
zone (checked when the line was read: app/engine/importers.py) become the contact's fields, its
`tags` are added to the contact's tags, its other traits are custom attributes merged over the ones stored; a contact it names that does not exist
yet is created. An address it gives that another contact opted out with (the same email, however
capitalised, or phone) brings that opt-out along: Segment's `userId` is often not the id the shop's
contacts were imported with, and the same person under a second id must not be mailed after saying
no. Applying the same identify twice leaves the contact as once, so re-running an import
is harmless. Several identify calls for one contact apply in time order: the newest traits win.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.engine import Connection

from app.store.catalog import CONTACT_SCOPE, record_attributes
from app.store.sql import insert_or_ignore
from app.journey.schema import MAX_TAG
from app.store.tables import contact_channels, contact_tags, contacts

from .consent import UNSUBSCRIBED, ConsentChange, record, states_of
from .ingest import EventIn
from .runs import Batch
from .segment import traits_tags, traits_to_contact

_FIELDS = ("email", "phone", "first_name", "last_name", "timezone")
_STORED = select(contacts.c.id, contacts.c.attributes, *(contacts.c[f] for f in _FIELDS)).where(
    contacts.c.id.in_(bindparam("ids", expanding=True)))


def apply_identify(batch: Batch, items: list[EventIn], now: datetime) -> int:
    """Writes the traits of `items` (identify records) to their contacts; returns how many contacts
    changed. Runs in the batch's transaction, before the batch's events are applied, so those see
    the contact as identified."""
    conn = batch.conn
    ids = list(dict.fromkeys(e.contact for e in items))
    stored: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        for row in conn.execute(_STORED, {"ids": ids[start:start + 500]}):
            stored[row.id] = {**{f: row._mapping[f] for f in _FIELDS}, "attributes": dict(row.attributes or {})}
    wanted: dict[str, dict[str, Any]] = {}
    for item in sorted(items, key=lambda e: e.at):
        fields, attributes = traits_to_contact(item.properties)
        current = wanted.setdefault(item.contact, {f: None for f in _FIELDS} | {"attributes": {}}
                                    if item.contact not in stored else dict(stored[item.contact]))
        current.update({k: v for k, v in fields.items() if k in _FIELDS})
        current["attributes"] = {**current["attributes"], **attributes}
    names = {name for found in wanted.values() for name in found["attributes"]}
    new = [{"id": cid, **found, "created_at": now, "updated_at": now}
           for cid, found in wanted.items() if cid not in stored]
    if new:
        conn.execute(insert_or_ignore(contacts, conn.dialect.name, ["id"]), new)
    changed = [{"cid": cid, **{f"new_{k}": v for k, v in found.items()}, "now": now}
               for cid, found in wanted.items() if cid in stored and found != stored[cid]]
    if changed:
        conn.execute(contacts.update().where(contacts.c.id == bindparam("cid")).values(
            {f: bindparam(f"new_{f}") for f in (*_FIELDS, "attributes")} | {"updated_at": bindparam("now")}), changed)
    _keep_opt_outs(conn, {cid: found for cid, found in wanted.items()})
    tags = {(item.contact, tag) for item in items for tag in traits_tags(item.properties) if len(tag) <= MAX_TAG}
    if tags:        # added, never removed: an identify says what the contact is, not what they no longer are
        conn.execute(insert_or_ignore(contact_tags, conn.dialect.name, ["contact_id", "tag"]),
                     [{"contact_id": cid, "tag": tag} for cid, tag in sorted(tags)])
    record_attributes(conn, CONTACT_SCOPE, names)
    for cid in wanted:
        batch.contacts.pop(cid, None)       # read again, as identified, by whatever follows in the batch
    return len(new) + len(changed)


# Channels an address speaks for: an email's opt-out is email's, a phone's is SMS's and WhatsApp's.
_BY_ADDRESS = {"email": ("email",), "phone": ("sms", "whatsapp")}


def _keep_opt_outs(conn: Connection, wanted: dict[str, dict[str, Any]]) -> None:
    """Records on each identified contact the opt-outs other contacts with its email or phone have
    (at their own time, naming where they came from); never changes an opt-out or opt-in of its own."""
    emails = {cid: found["email"].lower() for cid, found in wanted.items() if found.get("email")}
    phones = {cid: found["phone"] for cid, found in wanted.items() if found.get("phone")}
    if not emails and not phones:
        return
    mine = states_of(conn, list(wanted))
    changes: dict[tuple[str, str], ConsentChange] = {}
    for field, addresses in (("email", emails), ("phone", phones)):
        values = sorted(set(addresses.values()))
        column = func.lower(contacts.c.email) if field == "email" else contacts.c.phone
        for start in range(0, len(values), 500):
            query = (select(contacts.c.id, column, contact_channels.c.channel, contact_channels.c.changed_at)
                     .join(contact_channels, contact_channels.c.contact_id == contacts.c.id)
                     .where(column.in_(values[start:start + 500]), contact_channels.c.state == UNSUBSCRIBED,
                            contact_channels.c.channel.in_(_BY_ADDRESS[field]))
                     .order_by(contacts.c.id))
            found = conn.execute(query).all()
            for cid, address in addresses.items():
                for other, their, channel, since in found:
                    if other == cid or their != address or mine.get(cid, {}).get(channel) == UNSUBSCRIBED:
                        continue
                    changes.setdefault((cid, channel), ConsentChange(
                        cid, channel, UNSUBSCRIBED, mine.get(cid, {}).get(channel, "unknown"), since,
                        f"identify: {field} {address} opted out as contact {other}"))
    record(conn, list(changes.values()))
