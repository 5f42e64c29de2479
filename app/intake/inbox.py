"""The receiver's inbox: each accepted request stored (committed) before its 2xx answer.

A request handler hands its rows to `Inbox.put` and awaits the commit. One writer thread takes every
row waiting at that moment into one transaction (group commit): under load, hundreds of requests
share one commit instead of taking turns for SQLite's write lock, and each is still answered only
once its rows are on disk. A crash after the answer loses nothing; a crash before it loses only
requests nobody was told were taken (the sender retries them, and the key makes a retry one row).

Keys (`idempotency_key`, unique): `segment:<messageId>`, `shopify:<X-Shopify-Webhook-Id>`,
`woocommerce:<X-WC-Webhook-Delivery-ID>`, `twilio:<MessageSid>:<MessageStatus>`,
`meta:<wamid>:<status>`, `link:<kind>:<token>…`. A key longer than 255 characters is stored as its
SHA-256 (as app/store/event_keys.py does).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import logging
import os
import queue
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Union

from sqlalchemy.engine import Engine

from app.store.sql import insert_or_ignore
from app.store.sqlite_hooks import WRITE_INTENT
from app.store.tables import intake_requests

log = logging.getLogger(__name__)

KEY_LENGTH = 255
MAX_ROWS_PER_COMMIT = 5_000


@dataclass(frozen=True)
class InboxRow:
    """One accepted delivery: who sent it (`source`), what it is (`topic`), its key and its JSON."""
    source: str
    topic: str
    key: str
    payload: str


def stored_key(key: str) -> str:
    """`key` as the column keeps it: itself, or `sha256:<hex>` when longer than KEY_LENGTH."""
    return key if len(key) <= KEY_LENGTH else "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


SYNC_ENV = "JOURNEYS_INTAKE_SYNC"
"""`normal` commits the inbox as the rest of the store does (WAL, `synchronous=NORMAL`: an answered request
survives a crash of the process, not a power cut); the default, `full`, syncs the WAL at every commit."""


def full_sync() -> bool:
    return os.environ.get(SYNC_ENV, "full").strip().lower() != "normal"


def write_rows(db: Engine, rows: list[InboxRow], now: datetime) -> None:
    """Stores `rows` in one transaction; a key already stored (a repeat) is skipped, not an error.

    On SQLite the commit is made with `synchronous=FULL` (the WAL is synced to disk before COMMIT
    returns), so an answered request survives a power cut too, not only a crash of the process; the
    connection goes back to the pool with the store's usual NORMAL. One sync per group commit."""
    if not rows:
        return
    values = [{"source": r.source, "topic": r.topic[:100], "idempotency_key": stored_key(r.key),
               "received_at": now, "payload": r.payload, "status": "new", "attempts": 0} for r in rows]
    with db.connect() as conn:
        raw = conn.connection.driver_connection if conn.dialect.name == "sqlite" and full_sync() else None
        if raw is not None:
            raw.execute("PRAGMA synchronous=FULL")      # outside any transaction: the driver is in autocommit
        try:
            conn.execution_options(**{WRITE_INTENT: True})
            with conn.begin():
                conn.execute(insert_or_ignore(intake_requests, conn.dialect.name, ["idempotency_key"]), values)
        finally:
            if raw is not None:
                raw.execute("PRAGMA synchronous=NORMAL")


class _LoopWaiter:
    """A request waiting on an event loop: settled there, in one batch per loop and commit."""

    def __init__(self, loop: asyncio.AbstractEventLoop, future: "asyncio.Future[None]") -> None:
        self.loop, self.future = loop, future


Waiter = Union[concurrent.futures.Future, _LoopWaiter]


def _settle(waiters: list[_LoopWaiter], error: BaseException | None) -> None:
    for waiter in waiters:
        if not waiter.future.done():
            if error is None:
                waiter.future.set_result(None)
            else:
                waiter.future.set_exception(error)


class Inbox:
    """The group-commit writer (see the module's docstring). `put` is thread-safe; `on_commit` runs
    after each commit (the engine wake-up); `close` commits what is waiting, then stops the thread."""

    def __init__(self, db: Engine, on_commit: Callable[[], None] | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.db = db
        self.on_commit = on_commit
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self._queue: queue.Queue[tuple[list[InboxRow], Waiter] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="intake-inbox", daemon=True)
        self._thread.start()

    def put(self, rows: list[InboxRow]) -> concurrent.futures.Future[None]:
        """A future that completes once `rows` are committed (or raises the database's error)."""
        done: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._queue.put((rows, done))
        return done

    async def stored(self, rows: list[InboxRow]) -> None:
        """Returns once `rows` are committed (raises the database's error): for the event loop. The
        writer settles every request of one commit with a single call into the loop."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._queue.put((rows, _LoopWaiter(loop, done)))
        await done

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            waiting = [first]
            count = len(first[0])
            stop = False
            while count < MAX_ROWS_PER_COMMIT:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                waiting.append(item)
                count += len(item[0])
            self._commit(waiting)
            if stop:
                return

    def _commit(self, waiting: list[tuple[list[InboxRow], Waiter]]) -> None:
        # Two requests in one commit may carry the same key (a sender retrying at once): the first stands.
        unique: dict[str, InboxRow] = {}
        for rows_given, _ in waiting:
            for row in rows_given:
                unique.setdefault(stored_key(row.key), row)
        rows = list(unique.values())
        error: Exception | None = None
        try:
            write_rows(self.db, rows, self.clock())
        except Exception as exc:  # noqa: BLE001 - every waiting request is told (5xx); the sender retries
            log.error("the receiver could not store %d request(s): %s", len(waiting), exc)
            error = exc
        loops: dict[asyncio.AbstractEventLoop, list[_LoopWaiter]] = {}
        for _, done in waiting:
            if isinstance(done, _LoopWaiter):
                loops.setdefault(done.loop, []).append(done)
            elif error is None:
                done.set_result(None)
            else:
                done.set_exception(error)
        for loop, waiters in loops.items():
            try:
                loop.call_soon_threadsafe(_settle, waiters, error)
            except RuntimeError:        # the loop closed meanwhile (shutdown): nobody waits any more
                pass
        if error is not None:
            return
        if self.on_commit is not None:
            try:
                self.on_commit()
            except Exception:  # noqa: BLE001 - a wake-up that fails must not lose the next requests
                log.exception("the engine wake-up after an intake commit failed")
