"""What a test run starts from: a throwaway database, the contact in it, the trigger event's properties.

The throwaway database is a copy of an empty one made once per process (creating the schema takes
most of a test run's time otherwise), in its own temporary folder, deleted afterwards. The live
store is only ever read.
"""
from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from app.store.app_settings import business_timezone
from app.store.db import open_database
from app.store.tables import contact_channels, contact_tags, contacts, events

from .context import CHANNELS, ContactView, load_contacts

_lock = threading.Lock()
_empty: Path | None = None


def _empty_database() -> Path:
    """An empty database at the current schema, made once per process (and removed at exit)."""
    global _empty
    with _lock:
        if _empty is None or not _empty.exists():
            folder = Path(tempfile.mkdtemp(prefix="journeys-test-run-schema-"))
            atexit.register(shutil.rmtree, folder, True)
            path = folder / "empty.sqlite3"
            open_database(str(path)).dispose()
            _empty = path
        return _empty


def throwaway_database(folder: Path) -> Engine:
    """A new empty database in `folder` (a copy of the one made once per process)."""
    path = folder / "test-run.sqlite3"
    shutil.copyfile(_empty_database(), path)
    path.chmod(0o600)
    return open_database(str(path))


def live_contact(live_db: Engine | None, contact_id: str) -> ContactView:
    """The contact `contact_id` as the live store has it (fields, attributes, tags, consent); read only.
    Raises LookupError when there is no such contact (or no live store)."""
    if live_db is None:
        raise LookupError(f"no contact with id {contact_id!r}: no store was given to copy it from")
    with live_db.connect() as conn:
        found = load_contacts(conn, [contact_id])
    if contact_id not in found:
        raise LookupError(f"no contact with id {contact_id!r} in the store")
    return found[contact_id]


def latest_event_properties(live_db: Engine | None, contact_id: str, event_type: str) -> dict[str, Any] | None:
    """The properties of the contact's latest event of `event_type` in the live store, or None."""
    if live_db is None:
        return None
    with live_db.connect() as conn:
        row = conn.execute(select(events.c.properties).where(
            events.c.contact_id == contact_id, events.c.type == event_type)
            .order_by(events.c.occurred_at.desc(), events.c.id.desc()).limit(1)).first()
    return dict(row[0] or {}) if row is not None else None


def live_business_zone(live_db: Engine | None) -> str:
    """The live store's business time zone ("" when none is set or no store was given)."""
    return (business_timezone(live_db) or "") if live_db is not None else ""


def store_contact(db: Engine, contact: ContactView, at: datetime) -> None:
    """Writes `contact` into the throwaway database: fields, attributes, tags and consent, the consent
    recorded a day before `at` (so a scripted opt-in or opt-out at the trigger or later is newer)."""
    f = contact.fields
    since = at - timedelta(days=1)
    with db.begin() as conn:
        conn.execute(contacts.insert().values(
            id=contact.id, email=f.get("email") or None, phone=f.get("phone") or None,
            first_name=f.get("first_name") or None, last_name=f.get("last_name") or None,
            timezone=f.get("timezone") or None, attributes=dict(contact.attributes),
            lifetime_spend=f.get("lifetime_spend") or 0, order_count=f.get("order_count") or 0,
            last_order_at=_instant(f.get("last_order_at")), created_at=since, updated_at=since))
        if contact.tags:
            conn.execute(contact_tags.insert(), [{"contact_id": contact.id, "tag": t} for t in sorted(contact.tags)])
        states = [(c, s) for c, s in contact.consent.items() if c in CHANNELS and s in ("subscribed", "unsubscribed")]
        if states:
            conn.execute(contact_channels.insert(), [
                {"contact_id": contact.id, "channel": c, "state": s, "changed_at": since, "source": "test run"}
                for c, s in states])


def _instant(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None
