"""What a test run starts from: a throwaway database, the contact in it, the trigger event's properties.

The throwaway database is an SQLite file in a private temporary folder (removed when the process
ends), emptied before and after each run. The live store is only ever read.
"""
from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from datetime import datetime, timedelta
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Iterator

from sqlalchemy import select
from sqlalchemy.engine import Engine

from app.store.app_settings import business_timezone
from app.store.db import open_database
from app.store.sql import write_transaction
from app.store.tables import contact_channels, contact_tags, contacts, events, metadata

from .context import CHANNELS, ContactView, load_contacts

_lock = threading.Lock()
_create_lock = threading.Lock()
_folder: Path | None = None
_idle: list[Engine] = []
_made = 0
KEEP = 2        # idle throwaway databases kept for the next test runs


def _new_database() -> Engine:
    """A new empty database: a copy of the empty one made once per process. Made under a lock:
    Alembic, which makes the first, keeps its state in module globals (two threads at once clash)."""
    global _folder, _made
    with _create_lock:
        with _lock:
            if _folder is None or not _folder.exists():
                _folder = Path(tempfile.mkdtemp(prefix="journeys-test-run-"))
                atexit.register(_close_all, _folder)
            _made += 1
            folder, path = _folder, _folder / f"test-run-{_made}.sqlite3"
        empty = folder / "empty.sqlite3"
        if not empty.exists():
            open_database(str(empty)).dispose()
        shutil.copyfile(empty, path)
        path.chmod(0o600)
        return open_database(str(path))


def _close_all(folder: Path) -> None:
    with _lock:
        for db in _idle:
            db.dispose()
        _idle.clear()
    shutil.rmtree(folder, ignore_errors=True)


def _wipe(db: Engine) -> None:
    """Empties every table but the schema's version (children first)."""
    with write_transaction(db) as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


@contextmanager
def throwaway_database() -> Iterator[Engine]:
    """An empty SQLite database for one test run, in a private temporary folder removed at exit.

    Emptied and kept for the next run rather than made anew each time: a new database costs the schema
    check and every SQL statement's compilation again (the engine caches them per database engine),
    which is most of a test run's time. One database serves one run at a time; runs at once get their own."""
    with _lock:
        db = _idle.pop() if _idle else None
    if db is None:
        db = _new_database()
    try:
        _wipe(db)
        yield db
    except BaseException:
        db.dispose()
        raise
    try:
        _wipe(db)               # nothing of the contact stays behind on the disk
    except Exception:           # noqa: BLE001 - a database that cannot be emptied is not used again
        db.dispose()
        return
    with _lock:
        if len(_idle) < KEEP:
            _idle.append(db)
            return
    db.dispose()


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
