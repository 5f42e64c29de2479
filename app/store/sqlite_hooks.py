"""Everything SQLite-specific lives here; the rest of the store is dialect-neutral.

Two things are fixed on every SQLite connection:

* Pragmas: WAL (the GUI and read-only commands read while another process
  writes), enforced foreign keys (cascades), a busy timeout instead of instant
  "database is locked" (a writer waits that long for another writer, then the
  store says the database is busy: app/store/faults.py), and
  ``synchronous=NORMAL`` (safe with WAL, far fewer fsyncs).
* Transactions: Python's sqlite3 (before 3.12's ``autocommit``) does not emit
  BEGIN before SELECT or DDL, so reads are not isolated, migrations are not
  atomic and SAVEPOINTs silently escape the outer transaction. We switch the
  driver's own handling off and emit BEGIN ourselves (SQLAlchemy's documented
  recipe). A connection marked with :data:`WRITE_INTENT` begins with
  ``BEGIN IMMEDIATE``: it takes the write lock up front (waiting up to the busy
  timeout) instead of failing mid-transaction when a read lock cannot be
  upgraded.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from app.store.errors import StoreError

WRITE_INTENT = "journeys_write_intent"
"""Execution option: this connection's next transaction is going to write."""

BUSY_TIMEOUT_MS = 10_000
"""How long a writer waits for another process's write transaction: the engine's batches take well
under a second, an import's transactions a few; ten seconds rides out those without leaving a
person staring at a silent command. ``$JOURNEYS_BUSY_TIMEOUT`` (seconds) overrides it."""
BUSY_TIMEOUT_ENV = "JOURNEYS_BUSY_TIMEOUT"
_SQLITE_READONLY = 8


def busy_timeout_ms() -> int:
    """The busy timeout in milliseconds: $JOURNEYS_BUSY_TIMEOUT seconds when set and valid, else 10 s."""
    raw = os.environ.get(BUSY_TIMEOUT_ENV, "").strip()
    try:
        seconds = float(raw)
    except ValueError:
        return BUSY_TIMEOUT_MS
    return int(seconds * 1000) if 0 <= seconds <= 3600 else BUSY_TIMEOUT_MS


_PRAGMAS = (
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=NORMAL",
    # 64 MiB of page cache (the default is 2 MiB): the engine's batches touch the
    # runs, messages and log indexes of thousands of contacts per transaction.
    "PRAGMA cache_size=-65536",
    # Checkpoint the WAL every ~40 MiB rather than every 4 MiB: a batch rewrites
    # the same index pages many times, and fewer checkpoints write each page once.
    "PRAGMA wal_autocheckpoint=10000",
)


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
    cursor = dbapi_connection.cursor()
    try:
        # First, so that switching a new file to WAL waits for a process creating it too.
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms()}")
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as exc:
            # A read-only file in the older rollback-journal mode cannot switch; it can still be
            # read. A writer never gets here with such a file (app/store/db.py refuses it first).
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF != _SQLITE_READONLY:
                raise
        for pragma in _PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def _on_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get(WRITE_INTENT, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def install(engine: Engine) -> None:
    """Attach the pragma and BEGIN hooks to a SQLite engine (no-op otherwise)."""
    if engine.dialect.name != "sqlite":
        return
    if not event.contains(engine, "connect", _on_connect):
        event.listen(engine, "connect", _on_connect)
        event.listen(engine, "begin", _on_begin)


def _raw_execute(conn: Connection, sql: str) -> None:
    """Run ``sql`` on the driver connection, outside any transaction."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql)
    finally:
        cursor.close()


@contextmanager
def foreign_keys_paused(conn: Connection) -> Iterator[None]:
    """Turn off foreign-key enforcement around a migration on SQLite.

    Batch migrations rebuild a table by copy, drop and rename; with
    enforcement on, the DROP would cascade-delete every child row (all the
    versions of every journey, say). Must be entered before the transaction
    begins: SQLite ignores this pragma inside one. Use
    :func:`check_foreign_keys` before committing.
    """
    if conn.dialect.name != "sqlite":
        yield
        return
    if conn.in_transaction():
        raise RuntimeError("foreign_keys_paused() must be entered outside a transaction")
    _raw_execute(conn, "PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        if conn.in_transaction():
            conn.rollback()
        _raw_execute(conn, "PRAGMA foreign_keys=ON")


def check_foreign_keys(conn: Connection) -> None:
    """Raise StoreError if rows point at missing parents (SQLite only)."""
    if conn.dialect.name != "sqlite":
        return
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        tables = sorted({str(row[0]) for row in broken})
        raise StoreError(
            f"The database upgrade left {len(broken)} row(s) in {', '.join(tables)} "
            "pointing at missing records; nothing was changed."
        )
