"""The connected shops in the database (`connections`) and where each poll stands (`connection_cursors`).

A connection's id is `<kind>:<address>` ("shopify:corner.myshopify.com"); its secrets are in the
keyring under that id (app/connectors/secrets.py). A cursor is a small JSON object whose meaning
belongs to the connector (shopify.py, woocommerce.py); it is read and written inside the caller's
transaction, so it advances exactly with the events it covers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Engine

from app.store.sql import write_transaction
from app.store.tables import connection_cursors, connections

KINDS = ("shopify", "woocommerce")
HISTORY, LIVE = "history", "live"
DEFAULT_INTERVAL = 60.0
"""Seconds between two polls of a shop, unless the connection says otherwise (`options.interval`)."""
ERROR_LIMIT = 1000      # characters of an error kept


def ago(at: datetime | None, now: datetime, *, local: bool = False) -> str:
    """When a poll happened, as a person reads it: "never", "12 s ago", "4 min ago", else the time
    (the UTC date and time; `local`: the day and time in this computer's zone, as the window shows)."""
    if at is None:
        return "never"
    seconds = int((now - at).total_seconds())
    if seconds < 90:
        return f"{max(seconds, 0)} s ago"
    if seconds < 5400:
        return f"{seconds // 60} min ago"
    return at.astimezone().strftime("%d %b %H:%M") if local else at.strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class ShopConnection:
    """One connected shop as stored (secrets excluded)."""
    id: str
    kind: str
    address: str
    phase: str
    created_at: datetime
    options: dict[str, Any] = field(default_factory=dict)
    last_poll_at: datetime | None = None
    last_ok_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    received: int = 0

    @property
    def interval(self) -> float:
        """Seconds between polls (10 to 86,400)."""
        value = self.options.get("interval", DEFAULT_INTERVAL)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            return DEFAULT_INTERVAL        # an odd stored value never stops the polls (timedelta overflows)
        return min(86_400.0, max(10.0, float(value)))

    @property
    def failing(self) -> bool:
        """Whether the last poll failed (a success clears the error)."""
        return self.last_error is not None


def connection_id(kind: str, address: str) -> str:
    return f"{kind}:{address}"


def _row(row: Any) -> ShopConnection:
    m = row._mapping
    return ShopConnection(m["id"], m["kind"], m["address"], m["phase"], m["created_at"], dict(m["options"] or {}),
                          m["last_poll_at"], m["last_ok_at"], m["last_error"], m["last_error_at"], int(m["received"]))


def save_connection(db: Engine, kind: str, address: str, now: datetime, options: dict[str, Any] | None = None) -> str:
    """Adds the shop (phase `history`: its first poll imports the past, starting nothing), or updates
    the options of the one already stored (its cursors and phase stay). Returns its id. Raises
    ValueError for an unknown kind."""
    if kind not in KINDS:
        raise ValueError(f"unknown connector {kind!r}: use {' or '.join(KINDS)}")
    cid = connection_id(kind, address)
    with write_transaction(db) as conn:
        found = conn.execute(select(connections.c.options).where(connections.c.id == cid)).first()
        if found is None:
            conn.execute(connections.insert().values(id=cid, kind=kind, address=address, phase=HISTORY,
                                                     options=options or {}, created_at=now, received=0))
        elif options:
            conn.execute(connections.update().where(connections.c.id == cid)
                         .values(options={**dict(found.options or {}), **options}))
    return cid


def remove_connection(db: Engine, cid: str) -> bool:
    """Forgets the shop and its cursors (events already imported stay); False when there was none."""
    with write_transaction(db) as conn:
        conn.execute(connection_cursors.delete().where(connection_cursors.c.connection_id == cid))
        return bool(conn.execute(connections.delete().where(connections.c.id == cid)).rowcount)


def list_connections(db: Engine) -> list[ShopConnection]:
    with db.connect() as conn:
        return [_row(r) for r in conn.execute(select(connections).order_by(connections.c.id))]


def get_connection(db: Engine, cid: str) -> ShopConnection | None:
    with db.connect() as conn:
        row = conn.execute(select(connections).where(connections.c.id == cid)).first()
    return _row(row) if row is not None else None


def find_connection(db: Engine, name: str) -> ShopConnection | None:
    """The connection whose id or address is `name` (the address alone is enough when one kind has it)."""
    every = list_connections(db)
    found = [c for c in every if name in (c.id, c.address)]
    if not found:                  # as typed at `connect`: "corner-shop", "HTTPS://Shop.Example/"
        from .setup import normalise

        spelled = set()
        for kind in KINDS:
            try:
                spelled.add(connection_id(kind, normalise(kind, name)))
            except ValueError:
                pass
        found = [c for c in every if c.id in spelled]
    return found[0] if len(found) == 1 else None


def read_cursor(conn: Connection, cid: str, resource: str) -> dict[str, Any]:
    found = conn.execute(select(connection_cursors.c.cursor).where(
        connection_cursors.c.connection_id == cid, connection_cursors.c.resource == resource)).scalar()
    return dict(found or {})


def cursors_of(db: Engine, cid: str) -> dict[str, dict[str, Any]]:
    with db.connect() as conn:
        return {r.resource: dict(r.cursor or {}) for r in conn.execute(
            select(connection_cursors.c.resource, connection_cursors.c.cursor)
            .where(connection_cursors.c.connection_id == cid).order_by(connection_cursors.c.resource))}


def write_cursor(conn: Connection, cid: str, resource: str, cursor: dict[str, Any], now: datetime,
                 received: int = 0) -> None:
    """Stores the cursor (in the caller's transaction, with the events it covers) and adds `received`
    events to the connection's count."""
    done = conn.execute(connection_cursors.update().where(
        connection_cursors.c.connection_id == cid, connection_cursors.c.resource == resource)
        .values(cursor=cursor, updated_at=now))
    if not done.rowcount:
        conn.execute(connection_cursors.insert().values(connection_id=cid, resource=resource, cursor=cursor,
                                                        updated_at=now))
    if received:
        conn.execute(update(connections).where(connections.c.id == cid)
                     .values(received=connections.c.received + received))


def set_phase(db: Engine, cid: str, phase: str) -> None:
    with write_transaction(db) as conn:
        conn.execute(connections.update().where(connections.c.id == cid).values(phase=phase))


def record_poll(db: Engine, cid: str, now: datetime, error: str | None = None) -> None:
    """Notes a poll's end: its time, and its error (kept until a later poll succeeds) or success."""
    values: dict[str, Any] = {"last_poll_at": now}
    if error is None:
        values.update(last_ok_at=now, last_error=None, last_error_at=None)
    else:
        values.update(last_error=error[:ERROR_LIMIT], last_error_at=now)
    with write_transaction(db) as conn:
        conn.execute(connections.update().where(connections.c.id == cid).values(values))
