"""The intake job: the inbox's new requests applied through the engine, each exactly once.

A round takes up to `ROUND` rows still `new`, oldest first, turns each into engine events
(app/intake/shopify.py, woocommerce.py, providers.py; Segment calls as the JSON-lines import reads
them), ingests them all with `JourneyEngine.ingest`, then marks the rows `done` — or `dead` with the
reason when a row cannot be applied at all (a webhook naming no email or phone, a status about a
message this database never sent): the dead-letter list (app/intake/dead_letters.py).

Exactly once: every event carries an idempotency key derived from the request (Segment's messageId,
the order's id, the checkout's token, the provider's message id and status), and the engine stores
a key once. A crash between ingesting and marking the rows leaves them `new`; the next round ingests
them again and the engine skips every event it already has. An event the engine itself cannot apply
is kept among the engine's dead letters (app/engine/dead_letters.py) with its reason.
"""
from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection, Engine

from app.engine.consent import CHANNELS, KEEPS_OPT_OUT, channel_name
from app.engine.engine import JourneyEngine
from app.engine.importers import event_from_data
from app.engine.ingest import EventIn
from app.engine.isolation import clean
from app.store.sql import write_transaction
from app.store.tables import intake_requests

from . import shopify, woocommerce
from .people import Unusable
from .providers import link_events, meta_events, meta_reply_events, twilio_events

log = logging.getLogger(__name__)

ROUND = 2_000
"""Inbox rows per round: one engine ingest (in transactions of 500 events)."""
KEEP_DONE = timedelta(days=7)
"""How long applied rows stay in the inbox: their keys make a late retry of a delivery (Shopify retries for
48 hours) a repeat. Past that, a repeat is still caught by the events' own keys."""
PRUNE_EVERY = timedelta(hours=1)


@dataclass
class Applied:
    """What rounds of the intake job did: rows applied, rows set aside (dead) and events stored."""
    rows: int = 0
    dead: int = 0
    stored: int = 0
    reasons: list[str] = field(default_factory=list)


def events_of(conn: Connection, source: str, topic: str, payload: str, now: datetime) -> list[EventIn]:
    """The engine events one inbox row becomes; raises Unusable with the reason it cannot be applied."""
    try:
        data: Any = json.loads(payload)
    except ValueError:
        raise Unusable("the stored request is not JSON any more") from None
    if source == "segment":
        try:
            return [event_from_data(data, now)]
        except ValueError as exc:
            raise Unusable(f"the Segment {topic} call cannot be applied: {exc}") from None
    if source == "shopify":
        return shopify.events(conn, data["topic"], data["body"], now)
    if source == "woocommerce":
        return woocommerce.events(conn, topic, data, now)
    if source == "twilio":
        return twilio_events(conn, data, now)
    if source == "meta":
        return meta_reply_events(conn, data, now) if topic == "message" else meta_events(conn, data, now)
    if source == "link":
        return link_events(conn, data, now)
    raise Unusable(f"no reader for requests from {source!r}")


def without_loosened_opt_outs(found: list[EventIn]) -> list[EventIn]:
    """`found` without the shop opt-ins (`subscribed` marked KEEPS_OPT_OUT) of a contact and channel that
    the same round also opts out of, in whatever order or time: the opt-ins were read before the opt-out
    was applied, and a shop never loosens an opt-out (nor starts a journey on such an opt-in)."""
    out: set[tuple[str, str]] = set()
    for event in found:
        if event.type == "unsubscribed":
            channel = channel_name(event.properties.get("channel"))
            out.update((event.contact, c) for c in (CHANNELS if channel not in CHANNELS else (channel,)))
    if not out:
        return found
    return [e for e in found if not (e.type == "subscribed" and e.properties.get(KEEPS_OPT_OUT) is True
                                     and (e.contact, channel_name(e.properties.get("channel"))) in out)]


_NEW = (select(intake_requests.c.id, intake_requests.c.source, intake_requests.c.topic, intake_requests.c.payload)
        .where(intake_requests.c.status == "new").order_by(intake_requests.c.id))
_MARK = (intake_requests.update().where(intake_requests.c.id == bindparam("rid"))
         .values(status=bindparam("new_status"), reason=bindparam("why"), applied_at=bindparam("at"),
                 attempts=intake_requests.c.attempts + 1))


def apply_round(engine: JourneyEngine, limit: int = ROUND) -> Applied:
    """One round (see the module's docstring); returns what it did (rows 0: the inbox was empty)."""
    db, now = engine.db, engine.clock.now()
    with db.connect() as conn:
        rows = conn.execute(_NEW.limit(limit)).all()
        found: list[EventIn] = []
        dead: dict[int, str] = {}
        for row in rows:
            try:
                found.extend(events_of(conn, row.source, row.topic, row.payload, now))
            except Unusable as exc:
                dead[row.id] = clean(str(exc))
            except Exception as exc:  # noqa: BLE001 - one malformed row must not hold up the others
                log.exception("intake row %s (%s %s) could not be read", row.id, row.source, row.topic)
                dead[row.id] = clean(f"could not be read: {type(exc).__name__}: {exc}")
    if not rows:
        return Applied()
    found = without_loosened_opt_outs(found)
    done = engine.ingest(found) if found else None
    with write_transaction(db) as conn:
        conn.execute(_MARK, [{"rid": r.id, "new_status": "dead" if r.id in dead else "done", "why": dead.get(r.id),
                              "at": now} for r in rows])
    for rid, reason in dead.items():
        log.warning("intake request %s set aside: %s", rid, reason)
    return Applied(rows=len(rows) - len(dead), dead=len(dead), stored=done.stored if done else 0,
                   reasons=list(dead.values())[:10])


def apply_pending(engine: JourneyEngine, limit: int = ROUND) -> Applied:
    """Rounds until the inbox holds nothing new; returns their sum."""
    total = Applied()
    while True:
        one = apply_round(engine, limit)
        if not one.rows and not one.dead:
            return total
        total.rows += one.rows
        total.dead += one.dead
        total.stored += one.stored
        total.reasons += one.reasons[: 10 - len(total.reasons)]


def prune_done(db: Engine, now: datetime, keep: timedelta = KEEP_DONE) -> int:
    """Deletes the applied rows received more than `keep` before `now`; returns how many (never a new
    or dead row)."""
    with write_transaction(db) as conn:
        return int(conn.execute(intake_requests.delete().where(
            intake_requests.c.status == "done", intake_requests.c.received_at < now - keep)).rowcount or 0)


_LOCK = threading.Lock()


def intake_job(db: Engine, engine: JourneyEngine | None = None) -> Callable[[], int]:
    """The job for LiveEngine (`journeys serve` runs it every few seconds and after each accepted
    request): applies whatever the inbox holds; returns how many rows it handled. Rounds of one
    process never overlap (a lock); `engine` defaults to a JourneyEngine on `db` (its clock: the
    system's). Once an hour it also prunes applied rows older than KEEP_DONE."""
    chosen = engine or JourneyEngine(db)
    pruned_at: list[datetime] = []

    def run() -> int:
        if not _LOCK.acquire(blocking=False):
            return 0            # a round is under way: it takes these rows too
        try:
            done = apply_pending(chosen)
            now = chosen.clock.now()
            if not pruned_at or now - pruned_at[0] >= PRUNE_EVERY:
                prune_done(db, now)
                pruned_at[:] = [now]
        finally:
            _LOCK.release()
        return done.rows + done.dead

    return run


class Applier:
    """Runs the intake job on its own thread whenever woken (and every `every` seconds): the
    standalone receiver's engine side (`python -m app.intake`), and the tests'."""

    def __init__(self, engine: JourneyEngine, every: float = 2.0, gate: Callable[[], bool] | None = None) -> None:
        self.job = intake_job(engine.db, engine)
        self.every = every
        self.gate = gate           # applies only while it says yes (the engine lease is still ours)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="intake-apply", daemon=True)

    def start(self) -> "Applier":
        self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.every)
            self._wake.clear()
            try:
                if self.gate is None or self.gate():
                    self.job()
            except Exception:  # noqa: BLE001 - logged; the rows stay new and are tried next round
                log.exception("the intake job failed; its rows stay in the inbox for the next round")
        try:
            if self.gate is None or self.gate():
                self.job()      # what came in before the stop (not once the lease is lost)
        except Exception:  # noqa: BLE001
            log.exception("the intake job failed at shutdown; its rows stay in the inbox")
