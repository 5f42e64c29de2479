"""Identify calls applied to contacts: what a Segment `identify` says about a person, kept on them.

An identify is not an event: it starts, ends and counts nothing. Its email, phone, names and time
zone (checked when the line was read: app/engine/importers.py) become the contact's fields, its
`tags` are added to the contact's tags, its other traits are custom attributes merged over the ones stored; a contact it names that does not exist
yet is created. Applying the same identify twice leaves the contact as once, so re-running an import
is harmless. Several identify calls for one contact apply in time order: the newest traits win.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select

from app.store.catalog import CONTACT_SCOPE, record_attributes
from app.store.sql import insert_or_ignore
from app.journey.schema import MAX_TAG
from app.store.tables import contact_tags, contacts

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
    tags = {(item.contact, tag) for item in items for tag in traits_tags(item.properties) if len(tag) <= MAX_TAG}
    if tags:        # added, never removed: an identify says what the contact is, not what they no longer are
        conn.execute(insert_or_ignore(contact_tags, conn.dialect.name, ["contact_id", "tag"]),
                     [{"contact_id": cid, "tag": tag} for cid, tag in sorted(tags)])
    record_attributes(conn, CONTACT_SCOPE, names)
    for cid in wanted:
        batch.contacts.pop(cid, None)       # read again, as identified, by whatever follows in the batch
    return len(new) + len(changed)
