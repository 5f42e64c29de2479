"""Writing contacts read from a file: created or updated in chunks, consent recorded, re-runs idempotent."""
from __future__ import annotations

import itertools
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable, Iterable, Iterator

from sqlalchemy import bindparam, case, func, select
from sqlalchemy.engine import Connection, Engine

from app.store.catalog import CONTACT_SCOPE, record_attributes
from app.store.sql import insert_or_ignore, write_transaction
from app.store.sqlite_hooks import WRITE_INTENT
from app.store.tables import contact_channels, contact_tags, contacts

from .bulk import Many
from .consent import UNKNOWN, ConsentChange, import_changes, states_of
from .consent import record as record_consent
from .import_rows import ContactImport, ContactRow, Problem

_CHUNK = 5_000      # rows per transaction
_LOOKUP = 500       # ids per IN query: well under SQLite's bound-parameter limit
_FIELDS = ("email", "phone", "first_name", "last_name", "timezone")
_BASELINES = ("lifetime_spend", "order_count", "last_order_at")
_NO_FIELDS = dict.fromkeys(_FIELDS)     # a row's fields start from these: a field it lacks is empty
_EXISTING = select(contacts.c.id, contacts.c.attributes, *(contacts.c[f] for f in (*_FIELDS, *_BASELINES))).where(
    contacts.c.id.in_(bindparam("ids", expanding=True)))
_STORED_IDS = select(contacts.c.id).where(contacts.c.id.in_(bindparam("ids", expanding=True)))
# Identity when a row's id is not stored (or it has none): the email however capitalised, else the
# phone (E.164, as the importer writes it). Indexed (migration 0018), so a million rows stay fast.
_BY_EMAIL = select(contacts.c.id, func.lower(contacts.c.email).label("key")).where(
    func.lower(contacts.c.email).in_(bindparam("keys", expanding=True))).order_by(contacts.c.id)
_BY_PHONE = select(contacts.c.id, contacts.c.phone.label("key"), func.lower(contacts.c.email).label("email")).where(
    contacts.c.phone.in_(bindparam("keys", expanding=True))).order_by(contacts.c.id)
_TAGS_OF = select(contact_tags.c.contact_id, contact_tags.c.tag).where(
    contact_tags.c.contact_id.in_(bindparam("ids", expanding=True)))
_INSERT_CONTACTS = Many(lambda _: contacts.insert().values(
    {c: bindparam(c) for c in ("id", *_FIELDS, *_BASELINES, "attributes", "created_at", "updated_at")}))


def _raise(column: str) -> Any:
    """`column` raised to the row's baseline when that is higher, or set when none is stored (a NULL
    baseline in the row keeps the stored one): the shop's totals seed the history, never lower what
    imported orders already counted."""
    new = bindparam(f"new_{column}", type_=contacts.c[column].type)
    # A stored NULL (a contact with no last order yet) takes the row's value: `new > NULL` is unknown.
    return case((contacts.c[column].is_(None), new), (new > contacts.c[column], new), else_=contacts.c[column])



# One statement for every existing contact: an empty (None) field keeps the stored value. The bind names
# differ from the column names because SQLAlchemy reserves a column's own name for its SET value.
_UPDATE_CONTACTS = Many(lambda _: contacts.update().where(contacts.c.id == bindparam("cid")).values(
    {c: func.coalesce(bindparam(f"new_{c}", type_=contacts.c[c].type), contacts.c[c]) for c in _FIELDS}
    | {c: _raise(c) for c in _BASELINES}
    | {"attributes": bindparam("new_attributes"), "updated_at": bindparam("new_updated_at")}))
_ADD_TAGS = Many(lambda dialect: insert_or_ignore(contact_tags, dialect, ["contact_id", "tag"]).values(
    contact_id=bindparam("contact_id"), tag=bindparam("tag")))


_OPTED_OUT_SINCE = select(func.max(contact_channels.c.changed_at)).where(
    contact_channels.c.contact_id == bindparam("cid"), contact_channels.c.channel.in_(bindparam("channels", expanding=True)))


@dataclass
class _Stored:
    """A contact as stored, as far as a contacts file can change it."""
    fields: dict[str, Any]
    attributes: dict[str, Any]
    tags: set[str] = field(default_factory=set)

    def same_as(self, row: ContactRow) -> bool:
        """True when writing `row` would change nothing (empty cells keep stored values; tags only add;
        a baseline only raises)."""
        return (all(v is None or self.fields.get(k) == v for k, v in row.fields.items())
                and {**self.attributes, **row.attributes} == self.attributes and set(row.tags) <= self.tags
                and all(getattr(row, b) is None or (self.fields.get(b) is not None and getattr(row, b) <= _comparable(
                    self.fields[b], getattr(row, b))) for b in _BASELINES))


def _comparable(stored: Any, new: Any) -> Any:
    """A stored baseline in the type of the row's (SQLite returns Numeric as Decimal or float)."""
    return Decimal(str(stored)) if isinstance(new, Decimal) else stored


def import_contacts(db: Engine, rows: list[ContactRow], now: datetime, source: str = "contacts file") -> int:
    """Creates or updates contacts and records listed consent; returns how many rows were written.
    Same as `import_contacts_report(...).count`."""
    return import_contacts_report(db, rows, now, source).count


def import_contacts_report(db: Engine | Connection, rows: Iterable[ContactRow], now: datetime,
                           source: str = "contacts file",
                           progress: Callable[[int], None] | None = None, *, dry_run: bool = False) -> ContactImport:
    """Creates or updates contacts: empty fields keep stored values, attributes merge, tags are added.

    Consent (app/engine/consent.py): listed opt-outs are recorded; listed opt-ins apply to channels
    not opted out; an empty cell changes nothing, so re-importing a file never clears an opt-out
    (such rows come back as notices). Each change is in the history as "import:{source} line N".

    Idempotent and resumable: a contact already as the row says is not written at all (its
    `updated_at` stays), so importing a file again — after a fix, or after an import was killed
    between its transactions (one per 5,000 rows) — writes only what is missing or different, and
    the report counts new, updated and unchanged contacts.

    `rows` may be a stream (`contact_records`): only one chunk of 5,000 is held at a time; after
    each chunk commits, `progress(rows written so far)` is called.

    Identity: a row is the stored contact with its id; else (no id, or an id not stored) the one with
    its email, however capitalised; else the one with its phone. A new contact without an id gets its
    email in lower case (else its phone) as id, so importing the same file again finds it.
    History baselines (`lifetime_spend`, `order_count`, `last_order_at`) raise the stored values,
    never lower them. `dry_run`: everything is done and counted, then rolled back (nothing stays).

    `db` may be a Connection in a transaction the caller owns (`file_transaction`): every chunk is then
    written in it and nothing commits here, so a whole file — or a Mailchimp archive's files — goes in
    at once or not at all (the app's import dialog: Cancel, raised from `progress`, leaves the store as
    it was). `dry_run` is the caller's to honour then (roll back).
    """
    report = ContactImport(0)
    stream = iter(rows)
    while chunk := list(itertools.islice(stream, _CHUNK)):
        if isinstance(db, Connection):
            _import_chunk(db, chunk, now, source, report)
        else:
            with file_transaction(db, dry_run) as conn:
                _import_chunk(conn, chunk, now, source, report)
        report.count += len(chunk)
        if progress is not None:
            progress(report.count)
    report.unchanged = report.count - report.new - report.updated
    return report


@contextmanager
def file_transaction(db: Engine, dry_run: bool = False) -> Iterator[Connection]:
    """A write transaction that commits when the block ends normally, and rolls back whatever was done
    when it raises (Cancelled, a fault) or for a dry run. On SQLite it holds the write lock from BEGIN
    (other writers wait up to the busy timeout): one chunk's, or one file's for an atomic import."""
    if not dry_run:
        with write_transaction(db) as conn:
            yield conn
        return
    with db.connect() as conn:
        conn.execution_options(**{WRITE_INTENT: True})
        trans = conn.begin()
        try:
            yield conn
        finally:
            trans.rollback()


def _import_chunk(conn: Connection, chunk: list[ContactRow], now: datetime, source: str,
                  report: ContactImport) -> None:
    """The rows of `chunk` written on `conn` as `import_contacts_report` says; counts added to `report`."""
    chunk = _identify(conn, chunk, report)
    existing = _stored(conn, [r.id for r in chunk])
    for r in chunk:     # a zone guessed from the phone or address never replaces one a contact has
        if r.zone_derived and r.id in existing and existing[r.id].fields.get("timezone"):
            r.fields["timezone"] = None
    _INSERT_CONTACTS.run(conn, [
        {**_NO_FIELDS, **r.fields, "id": r.id, "attributes": r.attributes,
         "lifetime_spend": r.lifetime_spend or 0, "order_count": r.order_count or 0,
         "last_order_at": r.last_order_at, "created_at": now, "updated_at": now}
        for r in chunk if r.id not in existing])
    consent_changed: set[str] = set()
    changes = _consent(conn, chunk, existing, now, source, report.notices, consent_changed, report.consent)
    changed = [r for r in chunk if r.id in existing
               and (r.id in consent_changed or not existing[r.id].same_as(r))]
    # Attributes merge over the ones read above, as before: a repeated id in one chunk keeps the last.
    _UPDATE_CONTACTS.run(conn, [
        {"cid": r.id, **{f"new_{k}": r.fields.get(k) for k in _FIELDS},
         **{f"new_{b}": getattr(r, b) for b in _BASELINES},
         "new_attributes": {**existing[r.id].attributes, **r.attributes}, "new_updated_at": now}
        for r in changed])
    _ADD_TAGS.run(conn, [{"contact_id": r.id, "tag": t} for r in chunk for t in r.tags
                         if r.id not in existing or t not in existing[r.id].tags])
    record_consent(conn, changes)
    record_attributes(conn, CONTACT_SCOPE, {k for r in chunk for k in r.attributes})
    report.new += sum(r.id not in existing for r in chunk)
    report.updated += len(changed)


def _stored(conn: Connection, ids: list[str]) -> dict[str, _Stored]:
    """The stored contacts among `ids`, with their fields, attributes and tags (500 ids per query)."""
    found: dict[str, _Stored] = {}
    for at in range(0, len(ids), _LOOKUP):
        part = ids[at:at + _LOOKUP]
        for cid, attributes, *values in conn.execute(_EXISTING, {"ids": part}):
            found[cid] = _Stored(dict(zip((*_FIELDS, *_BASELINES), values)), dict(attributes or {}))
        for cid, tag in conn.execute(_TAGS_OF, {"ids": [i for i in part if i in found]}):
            found[cid].tags.add(tag)
    return found


def _identify(conn: Connection, chunk: list[ContactRow], report: ContactImport) -> list[ContactRow]:
    """The rows of `chunk` with their contact's id: their own when stored, else the stored contact with
    their email (any case), else with their phone, else a new id (their own, or email, or phone). A
    row that comes to the same contact as an earlier row of the chunk is left out with a notice.

    A phone finds a contact only when the row has no email or the contact none of its own: two people
    with different addresses who share a number (a family's landline, a shop's phone, a reused
    number) are two contacts, never merged into one by the number."""
    ids = [r.id for r in chunk if r.id]
    stored: set[str] = set()
    for at in range(0, len(ids), _LOOKUP):
        stored.update(conn.execute(_STORED_IDS, {"ids": ids[at:at + _LOOKUP]}).scalars())
    emails = {str(r.fields["email"]).lower() for r in chunk if r.id not in stored and r.fields.get("email")}
    by_email = _lookup(conn, _BY_EMAIL, sorted(emails))
    phones = {str(r.fields["phone"]) for r in chunk if r.id not in stored and r.fields.get("phone")
              and str(r.fields.get("email") or "").lower() not in by_email}
    by_phone = _phone_owners(conn, sorted(phones))
    kept: list[ContactRow] = []
    taken: dict[str, int] = {}
    for r in chunk:
        if r.id not in stored:
            email = str(r.fields.get("email") or "").lower()
            phone = str(r.fields.get("phone") or "")
            found = by_email.get(email) if email else None
            if found is None and phone:
                owners = by_phone.get(phone, [])
                found = next((cid for cid, theirs in owners if not email or not theirs), None)
                if found is None and owners:
                    report.notices.append(Problem(r.line, (
                        f"shares the phone {phone} with contact {owners[0][0]}, who has another email; imported "
                        "as a separate contact (a phone finds a contact only when the emails do not differ)")))
            r.id = found or r.id or email or phone
        if r.id in taken:
            report.notices.append(Problem(r.line, (
                f"is the same contact ({r.id}) as line {taken[r.id]} (same id, email or phone); "
                "skipped — merge the two rows in the file")))
            report.count -= 1
            continue
        taken[r.id] = r.line
        kept.append(r)
    return kept


def _phone_owners(conn: Connection, phones: list[str]) -> dict[str, list[tuple[str, str | None]]]:
    """The stored contacts with each phone, as (id, email in lower case or None), by id."""
    found: dict[str, list[tuple[str, str | None]]] = {}
    for at in range(0, len(phones), _LOOKUP):
        for cid, key, email in conn.execute(_BY_PHONE, {"keys": phones[at:at + _LOOKUP]}):
            found.setdefault(key, []).append((cid, email or None))
    return found


def _lookup(conn: Connection, query: Any, keys: list[str]) -> dict[str, str]:
    """Stored contact ids by email (lower case) or phone; the first by id when several share one."""
    found: dict[str, str] = {}
    for at in range(0, len(keys), _LOOKUP):
        for cid, key in conn.execute(query, {"keys": keys[at:at + _LOOKUP]}):
            found.setdefault(key, cid)
    return found


def _listing(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _consent(conn: Connection, chunk: list[ContactRow], existing: dict[str, Any], now: datetime, source: str,
             notices: list[Problem], changed_ids: set[str],
             tally: dict[tuple[str, str], int]) -> list[ConsentChange]:
    listing = [r for r in chunk if r.subscribed or r.unsubscribed]
    # New contacts have no consent yet: only existing ones are looked up.
    current = states_of(conn, [r.id for r in listing if r.id in existing])
    changes: list[ConsentChange] = []
    for r in listing:
        states = current.setdefault(r.id, {})
        changed, refused = import_changes(states, r.subscribed, r.unsubscribed)
        if r.contested:
            notices.append(Problem(r.line, (
                f"{_listing(r.contested)} is listed both as subscribed and as unsubscribed; the opt-out is "
                "recorded (keep each channel in one of the two columns)")))
        if changed:
            where = f"import:{source} line {r.line}"
            for channel, state in changed.items():
                tally[(channel, state)] = tally.get((channel, state), 0) + 1
                changes.append(ConsentChange(r.id, channel, state, states.get(channel, UNKNOWN), now, where))
                states[channel] = state
            changed_ids.add(r.id)
        if refused:
            since = conn.execute(_OPTED_OUT_SINCE, {"cid": r.id, "channels": refused}).scalar()
            when = f" on {since:%Y-%m-%d}" if since is not None else ""
            notices.append(Problem(r.line, (
                f"contact {r.id} opted out of {_listing(refused)}{when}; the file's 'subscribed' does not "
                "override an opt-out, so it stays unsubscribed (to opt back in, record a subscribed event "
                "naming the channel)")))
    return changes
