"""The engine lease: exactly one engine runs per database.

The app's window and the background service (`journeys serve`) both run the engine's jobs (tick,
scan, outbox, polls) — but never at the same time on one database. They coordinate through one row
of `engine_lease`: whoever holds it runs the jobs and renews it with a heartbeat (every ~10 s, for
~30 s); the others wait and take it over once `expires_at` has passed (the holder died, or lost its
connection). Taking the lease is one atomic statement — an INSERT that does nothing when the row
exists, else an UPDATE … WHERE expires_at < now — so two processes racing for a free or expired
lease cannot both win, on SQLite and on PostgreSQL alike.

Times come from the caller's `now` (UTC, aware): the holders of one database share a machine or a
synchronised clock; the tests pass their own to expire a lease without waiting.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

from sqlalchemy import and_, case, delete, literal, or_, select, update
from sqlalchemy.engine import Engine

from app.store.sql import insert_or_ignore, write_transaction
from app.store.tables import engine_lease
from app.store.types import UTCDateTime

LEASE_NAME = "engine"
DEFAULT_TTL = 30.0            # seconds a lease lasts without a heartbeat
DEFAULT_HEARTBEAT = 10.0      # seconds between heartbeats: two may fail before the lease runs out
KINDS = ("service", "app")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class LeaseHolder:
    """Who holds the engine lease: `kind` "service" or "app", on `host` as process `pid`, since
    `acquired_at`, renewed last at `heartbeat_at`, valid until `expires_at` (aware UTC)."""

    holder: str
    kind: str
    host: str
    pid: int
    acquired_at: datetime
    heartbeat_at: datetime
    expires_at: datetime


def current_holder(db: Engine, now: datetime | None = None) -> LeaseHolder | None:
    """The live holder of the lease (one whose lease has not expired at `now`), else None. Reads only."""
    now = now or utc_now()
    with db.connect() as conn:
        row = conn.execute(select(engine_lease).where(engine_lease.c.name == LEASE_NAME)).first()
    if row is None or row.expires_at <= now:
        return None
    return LeaseHolder(row.holder, row.kind, row.host, row.pid, row.acquired_at, row.heartbeat_at, row.expires_at)


class Lease:
    """This process's claim on the engine lease of `db`.

    `kind`: "service" or "app" (shown to the others); `ttl`: seconds a lease lasts without a
    heartbeat; `now`: the clock (aware UTC). Every method is one short write transaction and may
    raise the database's errors (app.store.faults.DatabaseUnavailable when busy or unreachable):
    the caller (app/service/keeper.py) treats those as "not renewed"."""

    def __init__(self, db: Engine, kind: str, *, ttl: float = DEFAULT_TTL,
                 now: Callable[[], datetime] = utc_now, holder: str | None = None) -> None:
        if kind not in KINDS:
            raise ValueError(f"lease kind {kind!r} is not one of {', '.join(KINDS)}")
        self.db, self.kind, self.ttl, self.now = db, kind, ttl, now
        self.holder = holder or str(uuid.uuid4())
        self.host = socket.gethostname()[:255]
        self.pid = os.getpid()
        self.valid_until: datetime | None = None     # our lease's end as last written; None: not held

    def acquire(self) -> bool:
        """Takes the lease when nobody holds it, when it has expired, or when it is already ours
        (then it is renewed); returns whether this process holds it now."""
        now = self.now()
        until = now + timedelta(seconds=self.ttl)
        mine = engine_lease.c.holder == self.holder
        with write_transaction(self.db) as conn:
            values = dict(holder=self.holder, kind=self.kind, host=self.host, pid=self.pid,
                          heartbeat_at=now, expires_at=until)
            inserted = conn.execute(insert_or_ignore(engine_lease, conn.dialect.name, ["name"])
                                    .values(name=LEASE_NAME, acquired_at=now, **values)
                                    .returning(engine_lease.c.holder)).first()
            if inserted is None:
                # Still ours and unexpired: keep the time it was taken; else it starts now.
                kept = case((and_(mine, engine_lease.c.expires_at > now), engine_lease.c.acquired_at),
                            else_=literal(now, UTCDateTime()))
                taken = conn.execute(update(engine_lease)
                                     .where(engine_lease.c.name == LEASE_NAME,
                                            or_(engine_lease.c.expires_at <= now, mine))
                                     .values(acquired_at=kept, **values)).rowcount
                if taken != 1:
                    self.valid_until = None
                    return False
        self.valid_until = until
        return True

    def renew(self) -> bool:
        """The heartbeat: extends our lease by `ttl` from now; False when it is no longer ours (it
        expired and another process took it, or the row was removed)."""
        now = self.now()
        until = now + timedelta(seconds=self.ttl)
        with write_transaction(self.db) as conn:
            renewed = conn.execute(update(engine_lease)
                                   .where(engine_lease.c.name == LEASE_NAME, engine_lease.c.holder == self.holder)
                                   .values(heartbeat_at=now, expires_at=until)).rowcount
        self.valid_until = until if renewed == 1 else None
        return renewed == 1

    def release(self) -> None:
        """Gives the lease up at once (a clean exit), so another process can take over without waiting
        for it to expire. Does nothing when it is not ours."""
        self.valid_until = None
        with write_transaction(self.db) as conn:
            conn.execute(delete(engine_lease).where(engine_lease.c.name == LEASE_NAME,
                                                    engine_lease.c.holder == self.holder))

    def held(self) -> bool:
        """Whether our lease, as last written, is still valid by our clock (no database access)."""
        return self.valid_until is not None and self.now() < self.valid_until
