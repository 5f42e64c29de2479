"""Events in: store them, apply them to contacts, then let every journey react at once.

Before an event is applied, the contact's own runs that fell due earlier are
advanced (runs of different contacts never interact), so a large batch of
events keeps every contact's order of things exact.

Reactions per event, in this order: delivery feedback (which may wake a
message_status branch), conversions and goals, exit conditions (so a matching
event ends a run before anything else is sent for it), then triggers. A whole
batch of events is one transaction.

Every event is keyed (app/store/event_keys.py): one whose key is already
stored, or repeated in the batch, is skipped before anything else and changes
nothing, so imports can be re-run after any crash. A conversion is credited
once, to the last touch across journeys (`LastTouch`); which message feedback
is about is decided in feedback.py; conversions and goals in conversion.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import bindparam, case, func, or_, select
from sqlalchemy.engine import Connection

from app.journey.conditions import all_hold
from app.journey.schema import MAX_AMOUNT
from app.store.catalog import record_attributes
from app.store.event_keys import event_key
from app.store.sql import insert_or_ignore
from app.store.tables import contacts, events

from . import dead_letters
from .bulk import Many
from .conversion import LastTouch, event_number as _number, meets as _matches
from .conversion import convert as _convert
from .consent import (CONSENT_EVENTS, KEEPS_OPT_OUT, UNSUBSCRIBED, ConsentChange, channel_name, consent_event_type,
                      event_changes, outdated)
from .consent import record as record_consent
from .context import CHANNELS, ContactView, LiveJourney
from .entry import enter
from .feedback import FEEDBACK, record_feedback
from .runs import ACTIVE, Batch, RunState, active_runs_of
from .segment import IDENTIFY
from .isolation import fail_run, guarded, reaction_failed
from .stepper import advance


@dataclass
class EventIn:
    """One event as it comes in. `id` is the sender's idempotency key, if it gave one."""
    contact: str
    type: str
    at: datetime
    properties: dict[str, Any] = field(default_factory=dict)
    id: str | None = None
    # What an import left out of the line and says by its number (an identify call's bad email…).
    notes: list[str] = field(default_factory=list, compare=False, repr=False)
    # An order read from an order export: it agrees with a customer export's totals (the larger of the
    # stored spend and the stored orders' sum, app/engine/history.py) instead of adding to them, live or
    # not, so a file's totals never depend on which of its orders set journeys off.
    reconcile: bool = field(default=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Consent and feedback read a channel; an opt-out must not be lost to `Unsubscribed` or `SMS`.
        self.type = consent_event_type(self.type)
        channel = self.properties.get("channel") if isinstance(self.properties, dict) else None
        if isinstance(channel, str) and (self.type in CONSENT_EVENTS or self.type in FEEDBACK):
            named = channel_name(channel)
            if named != channel:
                self.properties = {**self.properties, "channel": named}

    def key(self) -> str:
        """What makes a repeated delivery of this event the same event (app/store/event_keys.py)."""
        return event_key(self.contact, self.type, self.at, self.properties, self.id)


@dataclass
class Ingested:
    """What a batch of events did: node steps taken, events stored, repeats skipped (already stored,
    or twice in the batch; `repeated`: how many of those were a repeat within the events given),
    and feedback events that matched no message (ignored)."""
    steps: int = 0
    stored: int = 0
    duplicates: int = 0
    unmatched: int = 0
    repeated: int = 0
    dead: list[tuple["EventIn", str]] = field(default_factory=list)   # not applied: the event and why
    identified: int = 0     # identify calls (Segment) applied to contacts: not events, not counted above

    def summary(self) -> str:
        """`N new, M already present` — every event given is one or the other; repeats within the
        events given count as already present (the first was), and are said in brackets."""
        text = f"{self.stored} new, {self.duplicates} already present"
        text += f" ({self.repeated} of them repeated within the file)" if self.repeated else ""
        return text + (f"; {self.identified} identify call(s) applied to contacts" if self.identified else "")


_KNOWN = select(contacts.c.id).where(contacts.c.id.in_(bindparam("ids", expanding=True)))


def ensure_contacts(batch: Batch, ids: list[str], at: datetime) -> None:
    """An event for an unknown contact creates it."""
    wanted = list(dict.fromkeys(ids))
    known: set[str] = set()
    for start in range(0, len(wanted), 500):
        known.update(batch.conn.execute(_KNOWN, {"ids": wanted[start:start + 500]}).scalars())
    new = [{"id": c, "attributes": {}, "created_at": at, "updated_at": at} for c in wanted if c not in known]
    if new:
        # Another import may create the same contact meanwhile (PostgreSQL): theirs stands, ours is skipped.
        batch.conn.execute(insert_or_ignore(contacts, batch.conn.dialect.name, ["id"]), new)


def ingest_batch(batch: Batch, items: list[EventIn], received_at: datetime, virtual: bool,
                 history: bool = False) -> Ingested:
    """Stores `items` and applies them in time order, each event once: one already stored (by its
    idempotency key), or repeated within `items`, is skipped and changes nothing. The first delivery
    of an event is the one kept. Identify records (app/engine/traits.py) update their contacts first
    and are not stored as events. `history`: applied to contacts only, no journey reacts
    (app/engine/history.py)."""
    conn = batch.conn
    identified = [e for e in items if e.type == IDENTIFY]
    if identified:
        from .traits import apply_identify

        apply_identify(batch, identified, received_at)
        items = [e for e in items if e.type != IDENTIFY]
    keyed: dict[str, EventIn] = {}
    for e in items:
        keyed.setdefault(e.key(), e)
    fresh = sorted(_not_stored(conn, list(keyed)), key=lambda k: keyed[k].at)    # ids in time order
    result = Ingested(duplicates=len(items) - len(fresh), identified=len(identified))
    if history:
        from .history import ingest_history

        return ingest_history(batch, [(k, keyed[k]) for k in fresh], received_at, result)
    if batch.careful:        # a replay after the chunk failed: event by event (app/engine/ingest_careful.py)
        from .ingest_careful import ingest_carefully

        return ingest_carefully(batch, [(k, keyed[k]) for k in fresh], received_at, virtual, result)
    if fresh:
        first = min(keyed[k].at for k in fresh)
        ensure_contacts(batch, [keyed[k].contact for k in fresh], first)
    stored = _store_events(conn, [(k, keyed[k]) for k in fresh], received_at)
    result.duplicates += len(fresh) - len(stored)      # stored meanwhile by a concurrent writer (PostgreSQL)
    result.stored = len(stored)
    items = [e for e, _ in stored]
    by_type: dict[str, set[str]] = {}
    for e in items:
        by_type.setdefault(e.type, set()).update(e.properties)
    for scope, names in by_type.items():
        record_attributes(conn, scope, names)
    ids = [event_id for _, event_id in stored]
    contact_ids = list(dict.fromkeys(e.contact for e in items))
    batch.preload(contact_ids)
    active = active_runs_of(conn, contact_ids)
    # What their steps will read (catching up, branching on a message), in a few queries, not one per run.
    going = [r for found in active.values() for r in found]
    batch.preload_messages([r.id for r in going])
    batch.preload_events(going)
    live = batch.journeys.active(conn)
    # Conversions look further: a message counts for last touch whatever its journey does now.
    credited = batch.journeys.attributable(conn)
    for event, event_id in zip(items, ids):
        at = event.at if virtual else received_at
        contact = batch.contact(event.contact)
        mine = active.setdefault(contact.id, [])
        _catch_up(batch, mine, at, virtual)
        if not _apply(batch, event, event_id, contact, mine, live, credited, at):
            result.unmatched += 1
    batch.flush(received_at)
    result.steps = batch.steps
    return result


_EVENT_FIELDS = ("id", "contact_id", "type", "occurred_at", "received_at", "properties", "idempotency_key")
_INSERT_EVENTS = Many(lambda _: events.insert().values({c: bindparam(c) for c in _EVENT_FIELDS}))
_STORED_KEYS = select(events.c.idempotency_key).where(events.c.idempotency_key.in_(bindparam("keys", expanding=True)))


def _not_stored(conn: Connection, keys: list[str]) -> list[str]:
    """The keys no stored event has yet, in the given order (a dead-lettered event counts as stored)."""
    stored: set[str] = set()
    for start in range(0, len(keys), 500):
        stored.update(conn.execute(_STORED_KEYS, {"keys": keys[start:start + 500]}).scalars())
    stored |= dead_letters.dead_keys(conn, [k for k in keys if k not in stored])
    return [k for k in keys if k not in stored]


def _store_events(conn: Connection, items: list[tuple[str, EventIn]],
                  received_at: datetime) -> list[tuple[EventIn, int]]:
    """Inserts events (by key, none stored yet when read) in one executemany; returns those that went in,
    with their ids. A key stored meanwhile by a concurrent writer is skipped, not an error."""
    rows = [{"contact_id": e.contact, "type": e.type, "occurred_at": e.at, "received_at": received_at,
             "properties": e.properties, "idempotency_key": key} for key, e in items]
    if not rows:
        return []
    if conn.dialect.name != "sqlite":
        # PostgreSQL: another transaction may store the same event between the read and this insert;
        # ON CONFLICT DO NOTHING waits for it and skips the row, and RETURNING names the rows that went in.
        statement = insert_or_ignore(events, conn.dialect.name, ["idempotency_key"]).returning(
            events.c.id, events.c.idempotency_key)
        ids = {key: event_id for event_id, key in conn.execute(statement, rows)}
        return [(e, ids[key]) for key, e in items if key in ids]
    # SQLite: this transaction holds the write lock (BEGIN IMMEDIATE), so nobody stored these keys since
    # they were read, max + 1 onwards are ours alone (as for run ids), and the rows go through the lean
    # bulk path instead of RETURNING.
    first = int(conn.execute(select(func.coalesce(func.max(events.c.id), 0))).scalar_one()) + 1
    ids_in_order = list(range(first, first + len(rows)))
    for row, event_id in zip(rows, ids_in_order):
        row["id"] = event_id
    _INSERT_EVENTS.run(conn, rows)
    return [(e, event_id) for (_, e), event_id in zip(items, ids_in_order)]


def _catch_up(batch: Batch, mine: list[RunState], at: datetime, virtual: bool) -> None:
    """Advances the contact's runs that fell due before this event, so the event meets them where
    they should be (a send due at 10:15 goes before an order at 10:30 exits the run). Runs are
    independent across contacts, so this is all the ordering a batch of events needs."""
    for run in list(mine):
        while run.status == ACTIVE and run.due_at is not None and run.due_at < at:
            before = run.due_at
            advance(batch, run, before if virtual else at)
            if run.due_at == before:
                break


def _apply(batch: Batch, event: EventIn, event_id: int, contact: ContactView, mine: list[RunState],
           live: list[LiveJourney], credited: list[LiveJourney], at: datetime) -> bool:
    """Applies one stored event; False when it is feedback that matched no message (then ignored)."""
    props, kind = event.properties, event.type
    crossed: list[LiveJourney] = []
    matched = True
    if kind == "order_placed":
        crossed = (_record_order(batch, contact, props, event.at, live, reconcile=True) if event.reconcile
                   else _record_order(batch, contact, props, event.at, live))
    elif kind in ("subscribed", "unsubscribed"):
        _record_subscription(batch, contact, event, event_id)
    if kind in FEEDBACK or (kind == "unsubscribed" and props.get("message_id") is not None):
        feedback = record_feedback(batch, contact, kind, props, event.at, mine)
        matched = feedback.matched
        if feedback.woken is not None:
            feedback.woken.due_at = at
            advance(batch, feedback.woken, at)
    credit = LastTouch()
    for journey in credited:     # each journey's reaction is its own unit: one that raises fails alone
        guarded(batch, mine, partial(_convert, batch, journey, contact, event, at, mine, credit),
                reaction_failed(batch, journey, contact, mine, at, f"judging its goal on {kind!r}"), contact.id)
    credit.settle(batch, at, mine)
    _exit_matching(batch, contact, event, at, mine)
    for journey in live:
        if journey.trigger is not None:
            guarded(batch, mine, partial(_trigger, batch, journey, contact, event, event_id, at, mine, crossed),
                    reaction_failed(batch, journey, contact, [], at, f"judging its trigger on {kind!r}"), contact.id)
    mine[:] = [r for r in mine if r.status == ACTIVE]
    return matched


def _trigger(batch: Batch, journey: LiveJourney, contact: ContactView, event: EventIn, event_id: int,
             at: datetime, mine: list[RunState], crossed: list[LiveJourney]) -> None:
    """Enters the contact when the event (or the spend it added) fires the journey's trigger."""
    trigger = journey.trigger
    assert trigger is not None
    config, props = trigger.config, event.properties
    fires = (config["mode"] == "event" and config["event"] == event.type
             and (not config["conditions"]      # no rows: true, without building the contact's data
                  or all_hold(config["conditions"], props, contact.condition_data(), contact.tags)))
    if fires or any(j is journey for j in crossed):
        enter(batch, journey, contact, at, mine, event=props, event_type=event.type, event_id=event_id)


_LAST = bindparam("last", type_=contacts.c.last_order_at.type)
# Added in SQL, not written as a value read earlier: two imports at once (PostgreSQL) each add their order
# to what the other committed, and RETURNING gives the spend this order brought the contact to.
_SPEND = contacts.c.lifetime_spend + bindparam("total", type_=contacts.c.lifetime_spend.type)
_ORDER = (contacts.update().where(contacts.c.id == bindparam("cid")).values(
    # Added in SQL (two imports at once both count) and capped: the column is Numeric(14, 2), which
    # PostgreSQL enforces and SQLite would not.
    lifetime_spend=case((_SPEND > MAX_AMOUNT, MAX_AMOUNT), else_=_SPEND),
    order_count=contacts.c.order_count + 1,
    last_order_at=case((or_(contacts.c.last_order_at.is_(None), contacts.c.last_order_at < _LAST), _LAST),
                       else_=contacts.c.last_order_at),
    updated_at=bindparam("at")).returning(contacts.c.lifetime_spend, contacts.c.order_count, contacts.c.last_order_at))


_TOTALS = select(contacts.c.lifetime_spend, contacts.c.order_count, contacts.c.last_order_at).where(
    contacts.c.id == bindparam("cid"))


def _record_order(batch: Batch, contact: ContactView, props: dict[str, Any], at: datetime,
                  live: list[LiveJourney], reconcile: bool = False) -> list[LiveJourney]:
    """Adds the order to the contact's spend and order count (`reconcile`: raises them to what the
    stored orders add up to, as history does); returns spend-trigger journeys whose threshold this
    order crossed (judged on the stored totals, so each order counts once even when another import
    adds orders of the same contact at the same time)."""
    if reconcile:
        from .history import reconcile_orders

        before = float(batch.conn.execute(_TOTALS, {"cid": contact.id}).one()[0])
        reconcile_orders(batch.conn, [contact.id], at)
        spend, count, newest = batch.conn.execute(_TOTALS, {"cid": contact.id}).one()
        after = float(spend)
    else:
        total = round(_number(props.get("total")), 2)
        spend, count, newest = batch.conn.execute(_ORDER, {"cid": contact.id, "total": total, "last": at,
                                                           "at": at}).one()
        after = float(spend)
        before = after - total
        if after >= MAX_AMOUNT:     # capped: what it was before is not after - total; it is what we last saw
            before = max(before, float(contact.fields.get("lifetime_spend") or 0))
    contact.fields.update(lifetime_spend=after, order_count=int(count),
                          last_order_at=newest.isoformat() if isinstance(newest, datetime) else newest)
    return [j for j in live if j.trigger and j.trigger.config["mode"] == "spend"
            and before < float(j.trigger.config["threshold"]) <= after]


def _record_subscription(batch: Batch, contact: ContactView, event: EventIn, event_id: int) -> None:
    """Applies a subscribed/unsubscribed event to the contact's consent (rules: app/engine/consent.py),
    stamped with the event's own time: when the contact gave or withdrew consent. An event older than
    a channel's recorded state leaves that channel alone (`outdated`), so events imported out of
    order end where their times say."""
    changed = {c: state for c, state in event_changes(contact.consent, event.type, event.properties.get("channel"))
               .items() if not outdated(state, event.at, contact.consent_since.get(c))}
    if event.properties.get(KEEPS_OPT_OUT) is True:      # a shop's opt-in: never over an opt-out
        changed = {c: state for c, state in changed.items() if contact.consent_state(c) != UNSUBSCRIBED}
    if not changed:
        return
    origin = event.properties.get("source")
    source = f"event:{event.type} #{event_id}" + (f" ({origin})" if isinstance(origin, str) and origin else "")
    record_consent(batch.conn, [ConsentChange(contact.id, c, state, contact.consent_state(c), event.at, source)
                                for c, state in changed.items()])
    for c, state in changed.items():
        contact.consent[c] = state
        contact.consent_since[c] = (event.at, source)


def _exit_matching(batch: Batch, contact: ContactView, event: EventIn, at: datetime, mine: list[RunState]) -> None:
    everything_off = event.type == "unsubscribed" and set(CHANNELS) <= contact.unsubscribed
    for run in mine:
        if run.status != ACTIVE:
            continue

        def judge(run: RunState = run) -> None:
            settings = batch.journey(run).settings
            if any(_matches(rule, event, contact) for rule in settings["exit_conditions"]):
                batch.finish(run, "exited", at, "exit_condition", detail={"event": event.type})
            elif everything_off and settings["exit_on_unsubscribe_all"]:
                batch.finish(run, "exited", at, "unsubscribed", detail={"event": event.type})

        guarded(batch, [run], judge, partial(_failed_run, batch, run, at), contact.id)


def _failed_run(batch: Batch, run: RunState, at: datetime, exc: Exception) -> None:
    fail_run(batch, run, run.node_id, at, exc)
