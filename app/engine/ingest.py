"""Events in: store them, apply them to contacts, then let every journey react at once.

Before an event is applied, the contact's own runs that fell due earlier are
advanced (runs of different contacts never interact), so a large batch of
events keeps every contact's order of things exact.

Reactions per event, in this order: delivery feedback (which may wake a
message_status branch), conversions and goals, exit conditions (so a matching
event ends a run before anything else is sent for it), then triggers. A whole
batch of events is one transaction.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, bindparam, func, select
from sqlalchemy.engine import Connection

from app.journey.conditions import all_hold
from app.journey.schema import duration_minutes
from app.store.catalog import record_attributes
from app.store.tables import contact_channels, contacts, events, messages, runs

from .bulk import Many
from .context import CHANNELS, ContactView, LiveJourney
from .counts import message_metric
from .entry import enter
from .runs import ACTIVE, Batch, RunState, active_runs_of
from .stepper import advance

FEEDBACK = {"message_delivered": "delivered", "message_opened": "opened", "message_clicked": "clicked",
            "message_replied": "replied", "message_failed": "failed"}
_STATUS_RANK = {"queued": 0, "sent": 1, "delivered": 2, "opened": 3, "clicked": 4, "replied": 5}


@dataclass
class EventIn:
    contact: str
    type: str
    at: datetime
    properties: dict[str, Any] = field(default_factory=dict)


_KNOWN = select(contacts.c.id).where(contacts.c.id.in_(bindparam("ids", expanding=True)))


def ensure_contacts(batch: Batch, ids: list[str], at: datetime) -> None:
    """An event for an unknown contact creates it."""
    wanted = list(dict.fromkeys(ids))
    known: set[str] = set()
    for start in range(0, len(wanted), 500):
        known.update(batch.conn.execute(_KNOWN, {"ids": wanted[start:start + 500]}).scalars())
    new = [{"id": c, "attributes": {}, "created_at": at, "updated_at": at} for c in wanted if c not in known]
    if new:
        batch.conn.execute(contacts.insert(), new)


def ingest_batch(batch: Batch, items: list[EventIn], received_at: datetime, virtual: bool) -> int:
    """Stores and applies `items` (sorted by time); returns node steps taken by the runs they moved."""
    conn = batch.conn
    items = sorted(items, key=lambda e: e.at)
    ensure_contacts(batch, [e.contact for e in items], items[0].at if items else received_at)
    by_type: dict[str, set[str]] = {}
    for e in items:
        by_type.setdefault(e.type, set()).update(e.properties)
    for scope, names in by_type.items():
        record_attributes(conn, scope, names)
    ids = _store_events(conn, items, received_at)
    contact_ids = list(dict.fromkeys(e.contact for e in items))
    batch.preload(contact_ids)
    active = active_runs_of(conn, contact_ids)
    # What their steps will read (catching up, branching on a message), in a few queries, not one per run.
    going = [r for found in active.values() for r in found]
    batch.preload_messages([r.id for r in going])
    batch.preload_events(going)
    live = batch.journeys.active(conn)
    for event, event_id in zip(items, ids):
        at = event.at if virtual else received_at
        contact = batch.contact(event.contact)
        mine = active.setdefault(contact.id, [])
        _catch_up(batch, mine, at, virtual)
        _apply(batch, event, event_id, contact, mine, live, at)
    batch.flush(received_at)
    return batch.steps


_EVENT_FIELDS = ("id", "contact_id", "type", "occurred_at", "received_at", "properties")
_INSERT_EVENTS = Many(lambda _: events.insert().values({c: bindparam(c) for c in _EVENT_FIELDS}))


def _store_events(conn: Connection, items: list[EventIn], received_at: datetime) -> list[int]:
    """Inserts the events in one executemany; returns their ids in order."""
    rows = [{"contact_id": e.contact, "type": e.type, "occurred_at": e.at, "received_at": received_at,
             "properties": e.properties} for e in items]
    if conn.dialect.name != "sqlite":
        return list(conn.execute(events.insert().returning(events.c.id, sort_by_parameter_order=True),
                                 rows).scalars())
    # SQLite: this transaction holds the write lock (BEGIN IMMEDIATE), so max + 1 onwards are ours
    # alone (as for run ids), and the rows go through the lean bulk path instead of RETURNING.
    first = int(conn.execute(select(func.coalesce(func.max(events.c.id), 0))).scalar_one()) + 1
    ids = list(range(first, first + len(rows)))
    for row, event_id in zip(rows, ids):
        row["id"] = event_id
    _INSERT_EVENTS.run(conn, rows)
    return ids


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
           live: list[LiveJourney], at: datetime) -> None:
    props, kind = event.properties, event.type
    crossed: list[LiveJourney] = []
    if kind == "order_placed":
        crossed = _record_order(batch, contact, props, event.at, live)
    elif kind in ("subscribed", "unsubscribed"):
        _record_subscription(batch, contact, kind, props.get("channel"), at)
    if kind in FEEDBACK or (kind == "unsubscribed" and "message_id" in props):
        woken = _record_feedback(batch, contact, kind, props, event.at, mine)
        if woken is not None:
            woken.due_at = at
            advance(batch, woken, at)
    for journey in live:
        _convert(batch, journey, contact, event, at, mine)
    _exit_matching(batch, contact, event, at, mine)
    for journey in live:
        trigger = journey.trigger
        if trigger is None:
            continue
        config = trigger.config
        fires = (config["mode"] == "event" and config["event"] == kind
                 and (not config["conditions"]      # no rows: true, without building the contact's data
                      or all_hold(config["conditions"], props, contact.condition_data(), contact.tags)))
        if fires or any(j is journey for j in crossed):
            enter(batch, journey, contact, at, mine, event=props, event_type=kind, event_id=event_id)
    mine[:] = [r for r in mine if r.status == ACTIVE]


_ORDER = Many(lambda _: contacts.update().where(contacts.c.id == bindparam("cid")).values(
    lifetime_spend=bindparam("spend"), order_count=contacts.c.order_count + 1, last_order_at=bindparam("last"),
    updated_at=bindparam("at")))


def _record_order(batch: Batch, contact: ContactView, props: dict[str, Any], at: datetime,
                  live: list[LiveJourney]) -> list[LiveJourney]:
    """Updates spend and order count; returns spend-trigger journeys whose threshold this order crossed."""
    total = _number(props.get("total"))
    before = float(contact.fields.get("lifetime_spend") or 0)
    after = before + total
    last = contact.fields.get("last_order_at")
    last_at = datetime.fromisoformat(last) if isinstance(last, str) else None
    newest = at if last_at is None or at > last_at else last_at
    _ORDER.run(batch.conn, [{"cid": contact.id, "spend": round(after, 2), "last": newest, "at": at}])
    contact.fields.update(lifetime_spend=after, order_count=int(contact.fields.get("order_count") or 0) + 1,
                          last_order_at=newest.isoformat())
    return [j for j in live if j.trigger and j.trigger.config["mode"] == "spend"
            and before < float(j.trigger.config["threshold"]) <= after]


def _number(value: Any) -> float:
    try:
        return float(value) if value is not None and not isinstance(value, bool) else 0.0
    except (TypeError, ValueError):
        return 0.0


def _record_subscription(batch: Batch, contact: ContactView, kind: str, channel: Any, at: datetime) -> None:
    chosen = [channel] if isinstance(channel, str) and channel in CHANNELS else list(CHANNELS)
    subscribed = kind == "subscribed"
    conn = batch.conn
    conn.execute(contact_channels.delete().where(contact_channels.c.contact_id == contact.id,
                                                 contact_channels.c.channel.in_(chosen)))
    conn.execute(contact_channels.insert(), [{"contact_id": contact.id, "channel": c, "subscribed": subscribed,
                                              "changed_at": at} for c in chosen])
    if subscribed:
        contact.unsubscribed.difference_update(chosen)
    else:
        contact.unsubscribed.update(chosen)


_STAMPED = ("delivered", "opened", "clicked", "replied", "failed", "unsubscribed")
_FEEDBACK_COLUMNS = (messages.c.id, messages.c.run_id, messages.c.journey_id, messages.c.node_id, messages.c.status,
                     *(messages.c[f"{s}_at"] for s in _STAMPED))
_MESSAGE_BY_ID = select(*_FEEDBACK_COLUMNS).where(messages.c.id == bindparam("mid"),
                                                  messages.c.contact_id == bindparam("cid"))
_LATEST_MESSAGE = (select(*_FEEDBACK_COLUMNS)
                   .where(messages.c.contact_id == bindparam("cid"), messages.c.created_at <= bindparam("at"),
                          messages.c.status != "cancelled")
                   .order_by(messages.c.created_at.desc(), messages.c.id.desc()).limit(1))
def _stamp(status: str) -> Many:
    """Stamps a message's `status`_at (once) and moves its status on."""
    return Many(lambda _: messages.update().where(
        messages.c.id == bindparam("mid"), messages.c[f"{status}_at"].is_(None))
        .values({f"{status}_at": bindparam("at"), "status": bindparam("new_status")}))


_STAMP = {status: _stamp(status) for status in _STAMPED}


def _new_status(current: str, status: str) -> str:
    if status == "failed":
        return "failed"
    # A queued row keeps its status, so the outbox still hands it off.
    if current != "queued" and _STATUS_RANK.get(status, -1) > _STATUS_RANK.get(current, 99):
        return status
    return current


def _record_feedback(batch: Batch, contact: ContactView, kind: str, props: dict[str, Any], at: datetime,
                     mine: list[RunState]) -> RunState | None:
    """Stamps the message; returns the run to wake if it waits at a branch on this message."""
    status = FEEDBACK.get(kind, "unsubscribed")
    message_id = props.get("message_id")
    named = message_id is not None and str(message_id).isdigit()
    mid = int(str(message_id)) if named else None
    pending = None if named else batch.latest_pending_message(contact.id)
    if pending is not None and pending["created_at"] <= at:
        # Not in SQL yet (written with this batch): stamp the buffered row itself.
        first = pending.get(f"{status}_at") is None
        if first:
            pending[f"{status}_at"] = at
            pending["status"] = _new_status(pending["status"], status)
        run_id, journey_id, node_id = pending["run_id"], pending["journey_id"], pending["node_id"]
    else:
        query, params = ((_MESSAGE_BY_ID, {"mid": mid, "cid": contact.id}) if named
                         else (_LATEST_MESSAGE, {"cid": contact.id, "at": at}))
        row = batch.conn.execute(query, params).first()
        if row is None:
            return None
        first = row._mapping[f"{status}_at"] is None
        if first:
            new_status = _new_status(row.status, status)
            _STAMP[status].run(batch.conn, [{"mid": row.id, "at": at, "new_status": new_status}])
            batch.stamped(row.run_id, row.node_id, status, at, new_status)
        run_id, journey_id, node_id = row.run_id, row.journey_id, row.node_id
    if first and journey_id is not None:     # a repeated open is still one opened message
        batch.counts.add(journey_id, node_id, message_metric(status), at)
    for run in mine:
        if run.id == run_id and run.status == ACTIVE:
            node = batch.journey(run).node(run.node_id)
            if node is not None and node.kind == "message_status" and node.config["step"] == node_id:
                return run
    return None


def _matches(rule: dict[str, Any], event: EventIn, contact: ContactView) -> bool:
    conditions = rule.get("conditions")
    return rule.get("event") == event.type and (not conditions or all_hold(conditions, event.properties,
                                                                           contact.condition_data(), contact.tags))


_LATEST_IN_JOURNEY = (
    select(messages.c.run_id, messages.c.node_id)
    .where(messages.c.contact_id == bindparam("cid"), messages.c.journey_id == bindparam("jid"),
           messages.c.created_at <= bindparam("at"), messages.c.created_at >= bindparam("since"),
           # Two comparisons rather than NOT IN: an expanding IN is re-rendered on every execution.
           messages.c.status != "cancelled", messages.c.status != "failed")
    .order_by(messages.c.created_at.desc(), messages.c.id.desc()).limit(1))
_LATEST_RUN = (
    select(runs.c.id)
    .where(runs.c.journey_id == bindparam("jid"), runs.c.contact_id == bindparam("cid"),
           runs.c.entered_at <= bindparam("at"), runs.c.entered_at >= bindparam("since"))
    .order_by(runs.c.entered_at.desc(), runs.c.id.desc()).limit(1))


def _convert(batch: Batch, journey: LiveJourney, contact: ContactView, event: EventIn, at: datetime,
             mine: list[RunState]) -> None:
    """A goal event counts once: as a conversion for the latest message step within the window, and as a goal."""
    goal = journey.settings["goal"]
    if not goal["enabled"] or not _matches(goal, event, contact):
        return
    revenue = _number(event.properties.get("total"))
    since = event.at - timedelta(minutes=duration_minutes(journey.settings["conversion_window"]))
    pending = batch.latest_pending_message(contact.id)
    if (pending is not None and pending["journey_id"] == journey.id and since <= pending["created_at"] <= event.at
            and pending["status"] not in ("cancelled", "failed")):
        latest: tuple[Any, ...] | Row[Any] | None = (pending["run_id"], pending["node_id"])   # not in SQL yet
    else:
        if pending is not None:          # unwritten messages of another journey, maybe older ones of this
            batch.write_pending(contact.id)
        latest = batch.conn.execute(_LATEST_IN_JOURNEY, {"cid": contact.id, "jid": journey.id, "at": event.at,
                                                         "since": since}).first()
    if latest is not None:
        run_id, node_id = latest
        owner = next((r for r in mine if r.id == run_id), None) or _run_stub(batch, run_id)
        batch.log(owner, node_id, "converted", at, revenue=revenue)
    # The goal counts for the contact's latest run in this journey that entered within the goal window:
    # the newest one still going, else the newest finished one.
    since = event.at - timedelta(minutes=duration_minutes(goal["window"]))
    going = [r for r in mine if r.journey_id == journey.id and r.status == ACTIVE and since <= r.entered_at <= event.at]
    run = max(going, key=lambda r: (r.entered_at, r.id)) if going else None
    if run is None:
        batch.write_pending(contact.id)
        found = batch.conn.execute(_LATEST_RUN, {"jid": journey.id, "cid": contact.id, "at": event.at,
                                                 "since": since}).scalar()
        if found is None:
            return
        batch.log(_run_stub(batch, found), None, "goal", at, revenue=revenue)
        return
    batch.log(run, run.node_id, "goal", at, revenue=revenue)
    if goal["exits"]:
        batch.finish(run, "converted", at, "goal", action="exited")


def _run_stub(batch: Batch, run_id: int) -> RunState:
    """A finished run, enough to log against (it may still be among this batch's unwritten rows)."""
    batch.write_pending()
    row = batch.conn.execute(select(runs.c.id, runs.c.journey_id, runs.c.version, runs.c.contact_id)
                             .where(runs.c.id == run_id)).one()
    return RunState(row.id, row.journey_id, row.version, row.contact_id, None, None, datetime.min, "ended")


def _exit_matching(batch: Batch, contact: ContactView, event: EventIn, at: datetime, mine: list[RunState]) -> None:
    everything_off = event.type == "unsubscribed" and set(CHANNELS) <= contact.unsubscribed
    for run in mine:
        if run.status != ACTIVE:
            continue
        settings = batch.journey(run).settings
        if any(_matches(rule, event, contact) for rule in settings["exit_conditions"]):
            batch.finish(run, "exited", at, "exit_condition")
        elif everything_off and settings["exit_on_unsubscribe_all"]:
            batch.finish(run, "exited", at, "unsubscribed")
