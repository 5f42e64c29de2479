"""A contact's story in the live data: one timeline across all journeys, a page at a time.

Three sources, merged in time order: the events the contact sent (events), what the
engine did with them (run_log: steps entered, waits, deferrals, sends with the message's
status history, skips, branches, tags, goals, conversions, exits), and consent changes
(consent_changes). Each source is read through its (contact_id, time) index, at most one
page plus one row each, so a contact with thousands of rows opens as fast as one with ten.

Paging is by keyset: a page ends at a `Cursor` (time, source, id) and the next page starts
strictly after it, so rows written meanwhile never shift or repeat a page.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from babel.numbers import get_currency_precision
from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement

from app.journey.fileformat import JourneyFileError, from_document
from app.journey.model import Journey
from app.store.app_settings import business_timezone
from app.store.tables import consent_changes, contacts, events, journey_versions, journeys, messages, run_log, runs

from .timeline_words import log_words, short_time, source_words
from .timeutil import contact_zone, valid_zone

# Source order at one instant: the event first (it caused what follows), then consent it changed, then steps.
EVENT, CONSENT, STEP = 0, 1, 2
# A message's status stamps, in the order they happen.
_STAMPS = ("sent", "delivered", "opened", "clicked", "replied", "failed", "unsubscribed")
DEFAULT_PAGE = 100


@dataclass(frozen=True, order=True)
class Cursor:
    """Where a page ended: the last entry's time, source (EVENT, CONSENT, STEP) and row id."""
    at: datetime
    source: int
    id: int


@dataclass(frozen=True)
class StatusChange:
    status: str                      # queued, sent, delivered, opened, clicked, replied, failed, unsubscribed…
    at: datetime | None              # None: the status now, with no time recorded (cancelled, unknown)
    local: str = ""                  # `at` in the contact's zone
    business: str = ""               # `at` in the business's zone

    @property
    def words(self) -> str:
        """The status as people say it ("Opened", "Fate unknown (it may or may not have arrived)")."""
        return STATUS_WORDS.get(self.status, self.status.replace("_", " ").capitalize())


# A message's statuses (README, "The outbox") as people say them.
STATUS_WORDS = {"queued": "Queued", "sending": "Being sent", "accepted": "Accepted by the provider", "sent": "Sent",
                "delivered": "Delivered", "opened": "Opened", "clicked": "Clicked", "replied": "Replied",
                "failed": "Failed", "unsubscribed": "Unsubscribed", "cancelled": "Cancelled before it left",
                "unknown": "Fate unknown (it may or may not have arrived)"}


@dataclass(frozen=True)
class TimelineMessage:
    id: int
    channel: str
    recipient: str
    subject: str | None
    status: str                      # the status now
    history: tuple[StatusChange, ...]
    error: str | None = None         # the provider's reason for a failure
    error_code: str | None = None    # the provider's code ("550", "21610")


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime                     # UTC
    source: int                      # EVENT, CONSENT or STEP
    action: str                      # STEP: the run log's action; EVENT: the event type; CONSENT: "consent"
    words: str                       # the line as people say it
    local: str                       # `at` in the contact's zone
    business: str                    # `at` in the business's zone
    cursor: Cursor
    journey_id: str | None = None
    journey: str = ""                # the journey's name
    node_id: str | None = None
    step: str = ""                   # the step's title in the version the contact ran
    run_id: int | None = None
    outcome: str | None = None
    reason: str | None = None
    until: datetime | None = None    # waits and deferrals: when the contact moves on (UTC)
    revenue: float | None = None
    message: TimelineMessage | None = None
    properties: dict[str, Any] = field(default_factory=dict)   # an event's properties


@dataclass
class TimelinePage:
    contact_id: str
    entries: list[TimelineEntry]
    next: Cursor | None              # pass as `after` for the next page; None: this was the last
    contact_zone: str
    business_zone: str
    own_zone: bool = True            # False: the contact has no (valid) zone of its own; `contact_zone` is the fallback


def _after(at: Any, id_: Any, source: int, cursor: Cursor | None, oldest_first: bool) -> list[ColumnElement[bool]]:
    """Rows of one source strictly past `cursor` in the reading direction, in a form the (contact_id, at)
    index serves: a range on time, and the tie at the cursor's instant settled by source then id."""
    if cursor is None:
        return []
    if oldest_first:
        if source > cursor.source:
            return [at >= cursor.at]
        if source < cursor.source:
            return [at > cursor.at]
        return [at >= cursor.at, or_(at > cursor.at, id_ > cursor.id)]
    if source < cursor.source:
        return [at <= cursor.at]
    if source > cursor.source:
        return [at < cursor.at]
    return [at <= cursor.at, or_(at < cursor.at, id_ < cursor.id)]


def _order(at: Any, id_: Any, oldest_first: bool) -> tuple[Any, Any]:
    return (at.asc(), id_.asc()) if oldest_first else (at.desc(), id_.desc())


class _Journeys:
    """Journey names and versioned documents, each read once per page."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.names: dict[str, str] = {}
        self.docs: dict[tuple[str, int], Journey | None] = {}

    def load_names(self, ids: Iterable[str]) -> None:
        wanted = set(ids) - set(self.names)
        if wanted:
            j = journeys.c
            self.names.update((r.id, r.name) for r in self.conn.execute(select(j.id, j.name).where(j.id.in_(wanted))))

    def version(self, journey_id: str, version: int | None) -> Journey | None:
        if version is None:
            return None
        key = (journey_id, version)
        if key not in self.docs:
            v = journey_versions.c
            doc = self.conn.execute(select(v.document).where(v.journey_id == journey_id, v.version == version)
                                    ).scalar()
            try:
                self.docs[key] = from_document(doc, f"journey {journey_id} version {version}") if doc else None
            except JourneyFileError:      # a version the app can no longer read: ids and words still shown
                self.docs[key] = None
        return self.docs[key]


def _message(row: Any, zone: ZoneInfo, business: ZoneInfo) -> TimelineMessage:
    m = row._mapping

    def change(status: str, at: datetime) -> StatusChange:
        return StatusChange(status, at, short_time(at, zone), short_time(at, business))
    history = [change("queued", m["created_at"])]
    history += [change(s, m[f"{s}_at"]) for s in _STAMPS if m[f"{s}_at"] is not None]
    history.sort(key=lambda c: c.at or m["created_at"])
    if m["status"] not in {c.status for c in history}:       # cancelled, unknown, sending…: the state now
        history.append(StatusChange(m["status"], None))
    return TimelineMessage(m["id"], m["channel"], m["recipient"], m["subject"], m["status"], tuple(history),
                           m["error"], m["error_code"])


def _amount(total: Any, currency: Any) -> str:
    """A total as people read it: 1,234.50 USD; 1,500 JPY (the currency's own decimals, from CLDR
    through Babel); a value that is no number as it was sent."""
    if not isinstance(total, (int, float)) or isinstance(total, bool):
        return str(total) + (f" {_plain(currency)}" if _plain(currency) else "")
    digits = 2
    if isinstance(currency, str) and currency:
        try:
            digits = get_currency_precision(currency.upper())
        except Exception:             # an unknown code: two decimals, the code as sent
            digits = 2
    return f"{total:,.{digits}f}" + (f" {_plain(currency)}" if _plain(currency) else "")


def _plain(value: Any) -> str:
    """A property as words: text and numbers as they are, an object by its name or title, anything
    else (a list, an object without a name) not at all — never a Python repr."""
    if isinstance(value, dict):
        value = value.get("name") or value.get("title")
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return ""
    return str(value).strip()


def _event_words(kind: str, props: dict[str, Any]) -> str:
    words = f"Event: {kind.replace('_', ' ')}"
    facts = []
    channel = _plain(props.get("channel"))          # subscribed / unsubscribed: to what
    if channel:
        facts.append(_CHANNEL_NAMES.get(channel, channel))
    if _plain(props.get("product")):                # product viewed: which
        facts.append(_plain(props["product"]))
    if _plain(props.get("order_id")):
        facts.append(f"order {_plain(props['order_id'])}")
    if props.get("total") is not None and not isinstance(props["total"], (dict, list)):
        facts.append(f"total {_amount(props['total'], props.get('currency'))}")
    if isinstance(props.get("items"), list):
        n = len(props["items"])
        facts.append(f"{n} item{'' if n == 1 else 's'}")
    if _plain(props.get("source")) and kind in ("subscribed", "unsubscribed"):
        facts.append(f"from {_plain(props['source'])}")
    return words + (f" ({', '.join(facts)})" if facts else "")


_CHANNEL_NAMES = {"email": "email", "sms": "SMS", "whatsapp": "WhatsApp", "all": "every channel"}


CONSENT_WORDS = {"subscribed": "subscribed", "unsubscribed": "opted out", "unknown": "never asked"}


def _consent_words(channel: str, previous: str, state: str, source: str) -> str:
    name = {"email": "Email", "sms": "SMS", "whatsapp": "WhatsApp"}.get(channel, channel)
    return (f"Consent, {name}: {CONSENT_WORDS.get(previous, previous)} → {CONSENT_WORDS.get(state, state)}"
            + (f" ({source_words(source)})" if source else ""))


def contact_timeline(db: Engine | Connection, contact_id: str, *, limit: int = DEFAULT_PAGE,
                     after: Cursor | None = None, oldest_first: bool = False) -> TimelinePage | None:
    """One page (at most `limit` entries, newest first unless `oldest_first`) of the contact's timeline,
    starting past `after` (the previous page's `next`). Times are UTC, with `local` in the contact's zone
    (their own, else the business's, else UTC) and `business` in the business's zone.
    None when there is no such contact. Raises ValueError for a `limit` below 1."""
    if limit < 1:
        raise ValueError(f"a timeline page holds at least one entry, not {limit}")
    if isinstance(db, Engine):
        with db.connect() as conn:
            return contact_timeline(conn, contact_id, limit=limit, after=after, oldest_first=oldest_first)
    conn = db
    tz_name = conn.execute(select(contacts.c.timezone).where(contacts.c.id == contact_id)).first()
    if tz_name is None:
        return None
    business_name = business_timezone(conn) or ""
    zone, business = contact_zone(tz_name[0], None, business_name), contact_zone(business_name)
    take = limit + 1
    e, h, g, r = events.c, consent_changes.c, run_log.c, runs.c
    rows: list[tuple[Cursor, Any]] = []
    query_e = (select(e.id, e.type, e.occurred_at, e.properties)
               .where(e.contact_id == contact_id, *_after(e.occurred_at, e.id, EVENT, after, oldest_first))
               .order_by(*_order(e.occurred_at, e.id, oldest_first)).limit(take))
    rows += [(Cursor(x.occurred_at, EVENT, x.id), x) for x in conn.execute(query_e)]
    query_h = (select(h.id, h.at, h.channel, h.state, h.previous, h.source)
               .where(h.contact_id == contact_id, *_after(h.at, h.id, CONSENT, after, oldest_first))
               .order_by(*_order(h.at, h.id, oldest_first)).limit(take))
    rows += [(Cursor(x.at, CONSENT, x.id), x) for x in conn.execute(query_h)]
    query_g = (select(g.id, g.run_id, g.journey_id, g.node_id, g.at, g.action, g.outcome, g.reason, g.detail,
                      g.revenue, r.version)
               .join(runs, runs.c.id == g.run_id, isouter=True)
               .where(g.contact_id == contact_id, *_after(g.at, g.id, STEP, after, oldest_first))
               .order_by(*_order(g.at, g.id, oldest_first)).limit(take))
    rows += [(Cursor(x.at, STEP, x.id), x) for x in conn.execute(query_g)]
    rows.sort(key=lambda pair: pair[0], reverse=not oldest_first)
    more = len(rows) > limit
    rows = rows[:limit]
    known = _Journeys(conn)
    steps = [x for c, x in rows if c.source == STEP]
    known.load_names(x.journey_id for x in steps)
    sent_runs = {x.run_id for x in steps if x.action == "sent"}
    sent = {(m.run_id, m.node_id): m for m in conn.execute(
        select(messages).where(messages.c.run_id.in_(sent_runs)))} if sent_runs else {}
    entries = []
    for cursor, x in rows:
        local, at_business = short_time(cursor.at, zone), short_time(cursor.at, business)
        if cursor.source == EVENT:
            props = dict(x.properties or {})
            entries.append(TimelineEntry(cursor.at, EVENT, x.type, _event_words(x.type, props), local, at_business,
                                         cursor, properties=props))
        elif cursor.source == CONSENT:
            entries.append(TimelineEntry(cursor.at, CONSENT, "consent",
                                         _consent_words(x.channel, x.previous, x.state, x.source),
                                         local, at_business, cursor))
        else:
            doc = known.version(x.journey_id, x.version)
            node = doc.nodes.get(x.node_id) if doc is not None and x.node_id else None
            revenue = float(x.revenue) if x.revenue is not None else None
            detail = x.detail or {}
            until = None
            if isinstance(detail.get("until"), str):
                try:
                    until = datetime.fromisoformat(detail["until"])
                except ValueError:
                    until = None
            found = sent.get((x.run_id, x.node_id)) if x.action == "sent" else None
            entries.append(TimelineEntry(
                cursor.at, STEP, x.action, log_words(x.action, x.outcome, x.reason, detail, node, zone, revenue, cursor.at),
                local, at_business, cursor, x.journey_id, known.names.get(x.journey_id, x.journey_id),
                x.node_id, node.title if node is not None else (x.node_id or ""), x.run_id, x.outcome, x.reason,
                until, revenue, _message(found, zone, business) if found is not None else None))
    own = bool(tz_name[0]) and valid_zone(tz_name[0])
    return TimelinePage(contact_id, entries, rows[-1][0] if more and rows else None, zone.key, business.key, own)
