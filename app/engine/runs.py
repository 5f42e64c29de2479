"""Runs in memory during one transaction, and the buffered writes that persist them.

A batch loads runs, advances them, then writes every changed run and every log
row with one executemany each, inside the caller's transaction: a step's
transition and its outbox row commit together or not at all.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.engine import Connection

from app.delivery.settings import PUBLIC_URL_KEY
from app.delivery.tracking import tracking_secret
from app.delivery.unsubscribe import UnsubscribeLinks, links_for
from app.store.app_settings import business_timezone, get_setting
from app.store.sql import insert_or_ignore
from app.store.tables import contact_tags, events, messages, run_log, runs

from .bulk import Many
from .context import ContactView, EventCache, JourneyCache, LiveJourney, load_contacts
from .counts import Counts
from .templating import TemplateCache
from .timeutil import contact_zone

ACTIVE = "active"


def message_key(run_id: int, node_id: str) -> str:
    """Idempotency key of the message a run sends at a step: at most one, ever."""
    return f"run:{run_id}:{node_id}"


@dataclass
class RunState:
    id: int
    journey_id: str
    version: int
    contact_id: str
    node_id: str | None
    due_at: datetime | None
    entered_at: datetime
    status: str = ACTIVE
    exit_reason: str | None = None
    state: dict[str, Any] = field(default_factory=dict)
    trigger_event_id: int | None = None

    @classmethod
    def from_row(cls, row: Any) -> "RunState":
        """A run from a row of `RUN_COLUMNS` (whose order is this class's field order)."""
        rid, journey_id, version, contact_id, node_id, due_at, entered_at, status, exit_reason, state, event_id = row
        return cls(rid, journey_id, version, contact_id, node_id, due_at, entered_at, status, exit_reason,
                   dict(state or {}), event_id)


# What steps read of a message (status and times, for branches and recipient terms), not its bodies.
_MESSAGE_STATE = tuple(c for c in messages.c if c.name not in ("recipient", "sender", "subject", "body_text",
                                                                "body_html"))
_BY_KEY = select(*_MESSAGE_STATE).where(messages.c.idempotency_key == bindparam("key"))
_EVENTS = select(events.c.id, events.c.properties).where(events.c.id.in_(bindparam("ids", expanding=True)))
_BY_RUNS = select(*_MESSAGE_STATE).where(messages.c.run_id.in_(bindparam("ids", expanding=True)))
_CANCEL = Many(lambda _: messages.update().where(messages.c.run_id == bindparam("rid"), messages.c.status == "queued")
               .values(status="cancelled", error=bindparam("why")))
_UPDATE_RUN = Many(lambda _: runs.update().where(runs.c.id == bindparam("rid")).values(
    status=bindparam("status"), exit_reason=bindparam("exit_reason"), node_id=bindparam("node_id"),
    due_at=bindparam("due_at"), state=bindparam("state"), updated_at=bindparam("updated_at")))
# A run still active was active when read: its status and exit reason stay as they are, and leaving
# them out of SET spares SQLite the (contact_id, status) index update on every step.
_MOVE_RUN = Many(lambda _: runs.update().where(runs.c.id == bindparam("rid")).values(
    node_id=bindparam("node_id"), due_at=bindparam("due_at"), state=bindparam("state"),
    updated_at=bindparam("updated_at")))
_RUN_FIELDS = ("id", "journey_id", "version", "contact_id", "status", "exit_reason", "node_id", "due_at",
               "entered_at", "updated_at", "trigger_event_id", "state")
_INSERT_RUNS = Many(lambda _: runs.insert().values({c: bindparam(c) for c in _RUN_FIELDS}))
_LOG_FIELDS = ("run_id", "journey_id", "node_id", "contact_id", "at", "action", "outcome", "reason", "detail",
               "revenue")
_INSERT_LOGS = Many(lambda _: run_log.insert().values({c: bindparam(c) for c in _LOG_FIELDS}))
MESSAGE_FIELDS = ("idempotency_key", "run_id", "journey_id", "node_id", "contact_id", "channel", "recipient",
                  "sender", "subject", "body_text", "body_html", "status", "scheduled_at", "created_at", "sent_at",
                  "delivered_at", "opened_at", "clicked_at", "replied_at", "failed_at", "unsubscribed_at", "error",
                  "whatsapp_template")
_INSERT_OUTBOX = Many(lambda dialect: insert_or_ignore(messages, dialect, ["idempotency_key"]).values(
    {c: bindparam(c) for c in MESSAGE_FIELDS}))
_ADD_TAG = Many(lambda dialect: insert_or_ignore(contact_tags, dialect, ["contact_id", "tag"]).values(
    contact_id=bindparam("contact_id"), tag=bindparam("tag")))
_REMOVE_TAG = Many(lambda _: contact_tags.delete().where(contact_tags.c.contact_id == bindparam("contact_id"),
                                                          contact_tags.c.tag == bindparam("tag")))
_PG_NEXT_RUN_ID = text("SELECT nextval(pg_get_serial_sequence('runs', 'id'))")
RUN_COLUMNS = (runs.c.id, runs.c.journey_id, runs.c.version, runs.c.contact_id, runs.c.node_id, runs.c.due_at,
               runs.c.entered_at, runs.c.status, runs.c.exit_reason, runs.c.state, runs.c.trigger_event_id)


class Batch:
    """One transaction's worth of engine work: caches, loaded contacts, buffered writes.

    New runs, outbox rows, log rows and run updates are buffered and written with
    one executemany each; `write_pending` writes new runs and outbox rows early
    whenever SQL is about to read those tables.
    """

    def __init__(self, conn: Connection, journeys: JourneyCache, templates: TemplateCache,
                 events: EventCache | None = None) -> None:
        self.conn = conn
        self.journeys = journeys
        self.templates = templates
        self.events = events if events is not None else EventCache()   # trigger events' properties
        self.contacts: dict[str, ContactView] = {}
        self.steps = 0                                   # node steps taken in this batch (for throughput)
        self.counts = Counts()                           # statistics, written with the batch
        self._logs: list[dict[str, Any]] = []
        self._changed: dict[int, RunState] = {}
        self._new_runs: list[RunState] = []
        self._outbox: dict[str, dict[str, Any]] = {}    # message rows not written yet, by idempotency key
        self._known: dict[str, dict[str, Any]] = {}     # message rows read ahead for this batch
        self._known_by_run: dict[int, list[dict[str, Any]]] = {}
        self._preloaded: set[int] = set()               # runs whose every message is in _known
        self._next_id: int | None = None
        self._pending_contacts: set[str] = set()       # contacts with unwritten runs or messages
        self._pending_of: dict[str, list[dict[str, Any]]] = {}   # unwritten messages per contact, as queued
        self._pending_by_run: dict[int, list[dict[str, Any]]] = {}
        self._tag_writes: list[tuple[Many, dict[str, Any]]] = []   # in order: an add then a remove stays removed
        self._business_zone: str | None = None
        self._unsubscribe: UnsubscribeLinks | None = None
        self._public_url: str | None = None
        self._tracking_secret: bytes | None = None
        # Replaying a batch that failed: each unit in its own savepoint (app/engine/isolation.py).
        self.careful = False
        self.fine = False           # a unit of a careful batch done again: each step in a savepoint too
        self.failures = 0           # units and parts rolled back in this careful batch
        self.now: datetime | None = None                 # the batch's write time, for careful flushes

    def be_careful(self, now: datetime) -> None:
        """From now on every unit (a due run, an event, a journey's scan) runs in its own savepoint."""
        self.careful, self.now = True, now

    def recover(self, contact_ids: Iterable[str] | None = None) -> None:
        """After a savepoint rolled back a failed unit: drops its half-buffered writes and what was read
        ahead (the unit may have changed it in memory), and reads again the loaded contacts it may
        have changed (`contact_ids`; None: all)."""
        self._logs.clear()
        self._changed.clear()
        self._new_runs.clear()
        self._outbox.clear()
        self._pending_contacts.clear()
        self._pending_of.clear()
        self._pending_by_run.clear()
        self._tag_writes.clear()
        self._tracking_secret = None     # one made in the rolled-back unit was rolled back with it
        self.counts = Counts()
        self.forget_messages()
        self._unsubscribe = None        # a key made in the rolled-back savepoint is gone with it
        wanted = list(self.contacts) if contact_ids is None else [c for c in contact_ids if c in self.contacts]
        fresh = load_contacts(self.conn, wanted)
        for cid in wanted:
            if cid in fresh:
                vars(self.contacts[cid]).update(vars(fresh[cid]))     # in place: callers hold these objects
            else:
                del self.contacts[cid]                                 # its creation was rolled back

    # -- reading ---------------------------------------------------------------

    def unsubscribe_links(self) -> UnsubscribeLinks:
        """The unsubscribe link settings and the HMAC key that signs the links (read once per batch)."""
        if self._unsubscribe is None:
            self._unsubscribe = links_for(self.conn)
        return self._unsubscribe

    @property
    def business_zone(self) -> str:
        """The business's time zone name ("" when never set), read once per batch, not per contact."""
        if self._business_zone is None:
            self._business_zone = business_timezone(self.conn) or ""
        return self._business_zone

    @property
    def public_url(self) -> str:
        """Where the receiver is reachable from the internet ("" when none is set), read once per batch."""
        if self._public_url is None:
            self._public_url = (get_setting(self.conn, PUBLIC_URL_KEY) or "").strip().rstrip("/")
        return self._public_url

    def tracking_secret(self) -> bytes:
        """The installation's tracking secret (app/delivery/tracking.py), read (or made) once per batch."""
        if self._tracking_secret is None:
            self._tracking_secret = tracking_secret(self.conn)
        return self._tracking_secret

    def zone_for(self, journey: LiveJourney, contact: ContactView) -> ZoneInfo:
        """The zone of every local-time rule for this contact in this journey (`timeutil.contact_zone`)."""
        return contact_zone(contact.timezone, journey.timezone, self.business_zone)

    def journey(self, run: RunState) -> LiveJourney:
        return self.journeys.get(self.conn, run.journey_id, run.version)

    def contact(self, contact_id: str) -> ContactView:
        if contact_id not in self.contacts:
            self.contacts.update(load_contacts(self.conn, [contact_id]))
        return self.contacts[contact_id]

    def preload(self, contact_ids: list[str]) -> None:
        missing = [c for c in dict.fromkeys(contact_ids) if c not in self.contacts]
        if missing:
            self.contacts.update(load_contacts(self.conn, missing))

    def preload_messages(self, run_ids: list[int]) -> None:
        """Reads the messages of these runs in one query (for message_status and recipient terms)."""
        for start in range(0, len(run_ids), 500):
            result = self.conn.execute(_BY_RUNS, {"ids": run_ids[start:start + 500]})
            keys = list(result.keys())
            for row in result:
                self._remember(dict(zip(keys, row)))
        self._preloaded.update(run_ids)

    def _remember(self, row: dict[str, Any]) -> None:
        if row["idempotency_key"] not in self._known:
            self._known[row["idempotency_key"]] = row
            if row["run_id"] is not None:
                self._known_by_run.setdefault(row["run_id"], []).append(row)

    def remember_event(self, event_id: int, properties: dict[str, Any]) -> None:
        self.events.put(event_id, properties)

    def preload_events(self, found: list[RunState]) -> None:
        """Reads the trigger events of these runs not known yet in one query (templates use their properties)."""
        known = self.events
        wanted = list({r.trigger_event_id for r in found if r.trigger_event_id is not None
                       and r.trigger_event_id not in known})
        for start in range(0, len(wanted), 500):
            for eid, props in self.conn.execute(_EVENTS, {"ids": wanted[start:start + 500]}):
                known.put(eid, props or {})

    def event_props(self, run: RunState) -> dict[str, Any]:
        """The properties of the event that started the run ({} for time-based and manual entries)."""
        if run.trigger_event_id is None:
            return {}
        found = self.events.get(run.trigger_event_id)
        if found is None:
            self.preload_events([run])
            found = self.events.get(run.trigger_event_id)
        return found if found is not None else {}

    def message(self, key: str) -> dict[str, Any] | None:
        """A message row by idempotency key, including ones this batch has not written yet."""
        if key in self._outbox:
            return self._outbox[key]
        if key in self._known:
            return self._known[key]
        if self._preloaded and int(key.split(":")[1]) in self._preloaded:
            return None     # read ahead: this run has no such message
        row = self.conn.execute(_BY_KEY, {"key": key}).first()
        return dict(row._mapping) if row else None

    # -- writing ---------------------------------------------------------------

    def new_run(self, journey: LiveJourney, contact_id: str, at: datetime, state: dict[str, Any],
                trigger_event_id: int | None) -> RunState:
        """A run with an id allocated now and its row written with the batch."""
        trigger = journey.trigger
        run = RunState(self._allocate_id(), journey.id, journey.version, contact_id, trigger.id if trigger else None,
                       at, at, ACTIVE, None, state, trigger_event_id)
        self._new_runs.append(run)
        self._pending_contacts.add(contact_id)
        return run

    def _allocate_id(self) -> int:
        if self.conn.dialect.name == "postgresql":
            return int(self.conn.execute(_PG_NEXT_RUN_ID).scalar_one())
        # SQLite: this transaction holds the write lock (BEGIN IMMEDIATE), so max + 1 is ours alone.
        if self._next_id is None:
            self._next_id = int(self.conn.execute(select(func.coalesce(func.max(runs.c.id), 0))).scalar_one()) + 1
        self._next_id += 1
        return self._next_id - 1

    def queue_message(self, row: dict[str, Any]) -> None:
        """Adds an outbox row; written with the batch (or before anything reads messages from SQL)."""
        if row["idempotency_key"] not in self._outbox:
            self._outbox[row["idempotency_key"]] = row
            self._pending_contacts.add(row["contact_id"])
            self._pending_of.setdefault(row["contact_id"], []).append(row)
            self._pending_by_run.setdefault(row["run_id"], []).append(row)

    def latest_pending_message(self, contact_id: str, channel: str | None = None,
                               at: datetime | None = None) -> dict[str, Any] | None:
        """The contact's newest message queued by this batch and not yet in SQL (on `channel`, created at or
        before `at`, when given); at equal times the one queued last."""
        found = None
        for row in self._pending_of.get(contact_id, ()):
            if ((channel is None or row["channel"] == channel) and (at is None or row["created_at"] <= at)
                    and (found is None or row["created_at"] >= found["created_at"])):
                found = row
        return found

    def write_pending(self, contact_id: str | None = None) -> None:
        """Writes new runs and outbox rows now, because SQL is about to read those tables
        (only about `contact_id`, when given: then nothing is written unless that contact has some)."""
        if contact_id is not None and contact_id not in self._pending_contacts:
            return
        self._pending_contacts.clear()
        self._pending_of.clear()
        self._pending_by_run.clear()
        if self._new_runs:
            _INSERT_RUNS.run(self.conn, [
                {"id": r.id, "journey_id": r.journey_id, "version": r.version, "contact_id": r.contact_id,
                 "status": r.status, "exit_reason": r.exit_reason, "node_id": r.node_id, "due_at": r.due_at,
                 "entered_at": r.entered_at, "updated_at": r.entered_at, "trigger_event_id": r.trigger_event_id,
                 "state": r.state} for r in self._new_runs])
            for r in self._new_runs:       # written as they are now; a later change touches them again
                self._changed.pop(r.id, None)
            self._new_runs.clear()
        if self._outbox:
            _INSERT_OUTBOX.run(self.conn, list(self._outbox.values()))
            for row in self._outbox.values():
                # Now in SQL as they are, for the runs read ahead (whose keys were not there before);
                # message() must not answer "none" for them once the rows left the buffer.
                if row["run_id"] in self._preloaded:
                    self._remember(row)
            self._outbox.clear()

    def forget_messages(self) -> None:
        """Drops read-ahead rows after messages were changed in SQL in a way not mirrored here."""
        self._known.clear()
        self._known_by_run.clear()
        self._preloaded = set()

    def stamped(self, run_id: int | None, node_id: str | None, status: str, at: datetime, new_status: str) -> None:
        """Mirrors a delivery stamp just written to SQL (`{status}_at` set where empty, with the status)."""
        row = self._known.get(message_key(run_id, node_id)) if run_id is not None and node_id else None
        if row is not None and row.get(f"{status}_at") is None:
            row[f"{status}_at"], row["status"] = at, new_status

    def log(self, run: RunState, node_id: str | None, action: str, at: datetime, *, outcome: str | None = None,
            reason: str | None = None, detail: dict[str, Any] | None = None, revenue: float | None = None,
            counted: bool = True) -> None:
        """Adds a run-log row, and counts it in the statistics unless `counted` is False."""
        self._logs.append({"run_id": run.id, "journey_id": run.journey_id, "node_id": node_id,
                           "contact_id": run.contact_id, "at": at, "action": action, "outcome": outcome,
                           "reason": reason, "detail": detail, "revenue": revenue})
        if counted:
            self.counts.add_logged(run.journey_id, node_id, action, at, reason or outcome, revenue)

    def write_tags(self, contact_id: str, add: list[str], remove: list[str]) -> None:
        """Buffers tag changes, written in order with the batch. Nothing reads contact_tags from SQL
        during a batch except loading a contact not loaded yet, and a tagged contact is loaded."""
        self._tag_writes += [(_ADD_TAG, {"contact_id": contact_id, "tag": t}) for t in add]
        self._tag_writes += [(_REMOVE_TAG, {"contact_id": contact_id, "tag": t}) for t in remove]

    def touch(self, run: RunState) -> None:
        self._changed[run.id] = run

    def finish(self, run: RunState, status: str, at: datetime, reason: str | None = None,
               action: str | None = None, detail: dict[str, Any] | None = None) -> None:
        """Ends a run (completed / exited / converted); one that leaves early loses what it still has queued.
        `detail` is logged with it (e.g. the event that met an exit condition)."""
        if run.status != ACTIVE:
            return
        run.status, run.exit_reason, run.due_at = status, reason, None
        self.log(run, run.node_id, action or status, at, reason=reason, detail=detail)
        self.touch(run)
        if status == "completed":
            return      # its last message is on its way, as designed
        # Nothing queued for a run that left early may go out afterwards: neither rows this batch
        # has not written yet, nor rows in SQL.
        why = f"run {status}: {reason or ''}".strip(": ")
        for row in self._pending_by_run.get(run.id, ()):
            if row["status"] == "queued":
                row["status"], row["error"] = "cancelled", why
        _CANCEL.run(self.conn, [{"rid": run.id, "why": why}])
        for row in self._known_by_run.get(run.id, ()):      # the same change, on the rows read ahead
            if row["status"] == "queued":
                row["status"], row["error"] = "cancelled", why

    def flush(self, now: datetime) -> None:
        self.write_pending()
        if self._changed:
            # In id order: the table's B-tree is then walked forwards, not hit at random pages.
            changed = sorted(self._changed.values(), key=lambda r: r.id)
            _MOVE_RUN.run(self.conn, [{"rid": r.id, "node_id": r.node_id, "due_at": r.due_at, "state": r.state,
                                       "updated_at": now} for r in changed if r.status == ACTIVE])
            _UPDATE_RUN.run(
                self.conn,
                [{"rid": r.id, "status": r.status, "exit_reason": r.exit_reason, "node_id": r.node_id,
                  "due_at": r.due_at, "state": r.state, "updated_at": now} for r in changed if r.status != ACTIVE])
            self._changed.clear()
        if self._logs:
            _INSERT_LOGS.run(self.conn, self._logs)
            self._logs.clear()
        for statement, group in groupby(self._tag_writes, key=lambda write: write[0]):
            statement.run(self.conn, [row for _, row in group])
        self._tag_writes.clear()
        self.counts.write(self.conn)


_ACTIVE_OF = select(*RUN_COLUMNS).where(runs.c.contact_id.in_(bindparam("ids", expanding=True)),
                                        runs.c.status == ACTIVE).order_by(runs.c.id)


def active_runs_of(conn: Connection, contact_ids: list[str]) -> dict[str, list[RunState]]:
    found: dict[str, list[RunState]] = {}
    for start in range(0, len(contact_ids), 500):
        for row in conn.execute(_ACTIVE_OF, {"ids": contact_ids[start:start + 500]}):
            run = RunState.from_row(row)
            found.setdefault(run.contact_id, []).append(run)
    return found
