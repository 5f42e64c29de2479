"""One poll of a connected shop: each resource page after page, each page applied with its cursor.

The first poll of a new connection reads the shop's whole history and applies it in history mode
(app/engine/history.py): customers' spend, orders and consent are updated, no journey starts, exits
or converts — for what happened before the connection was made; an order or checkout made since (a
big shop's first import takes a while) is live. Once every resource is in, the connection is `live`: later polls apply what changed
since, and journeys react (orders or checkouts older than a day still start nothing).

A poll that fails (the shop refuses the token, is unreachable, keeps throttling) keeps every page
applied before the failure and its cursor; the error is recorded on the connection (shown by
`journeys connections` and Settings → Connections) and the next poll goes on from there.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Protocol

from app.engine.isolation import one_line

from .apply import Applied, apply_page
from .errors import ConnectionRemoved, ConnectorError
from .records import Page
from .secrets import get_secrets
from .store import HISTORY, LIVE, ShopConnection, get_connection, read_cursor, record_poll, set_phase

if TYPE_CHECKING:
    from datetime import datetime

    from app.engine.engine import JourneyEngine

log = logging.getLogger(__name__)
MAX_PAGES = 10_000
"""Pages of one resource in one poll at most (a shop answering the same cursor forever stops here)."""


class Source(Protocol):
    """What a connector offers the poller (ShopifySource, WooSource)."""
    kind: str
    resources: tuple[str, ...]

    def page(self, resource: str, cursor: dict[str, Any], now: "datetime") -> Page: ...

    def check(self) -> str: ...

    def close(self) -> None: ...


@dataclass
class PollReport:
    """What one poll did, per resource, and its error (None: every resource was read to its end)."""
    connection: str
    history: bool
    pages: int = 0
    skipped: int = 0
    applied: Applied = field(default_factory=Applied)
    by_resource: dict[str, Applied] = field(default_factory=dict)
    error: str | None = None
    stopped: bool = False            # asked to stop between two pages (a shutdown): resumes at the next poll

    def summary(self) -> str:
        a = self.applied
        text = (f"{self.connection}: {a.stored} new event(s), {a.duplicates} already present, "
                f"{a.identified} customer(s) updated, {a.new_contacts} new contact(s)")
        if a.consent:
            text += f", {a.consent} consent change(s)"
        if self.skipped:
            text += f"; {self.skipped} item(s) left out (cancelled, unpaid, refunded or completed)"
        if self.history:
            text += " — history: nothing started"
        if self.stopped:
            text += "; stopped between two pages (the next poll goes on from there)"
        return text + (f"; failed: {self.error}" if self.error else "")


def make_source(connection: ShopConnection, *, sleep: Callable[[float], None] | None = None,
                secrets: dict[str, str | None] | None = None) -> Source:
    """The connector for a stored connection, with its secrets from the keyring (or `secrets`).
    Raises ConnectorError when a secret is missing."""
    found = secrets if secrets is not None else get_secrets(connection.id)
    missing = [part for part, value in found.items() if not value]
    if missing:
        raise ConnectorError(f"no {' or '.join(missing)} stored for {connection.id}: run `journeys connect "
                             f"{connection.kind} …` again (or set its environment variable; README, \"Connecting a shop\")")
    extra: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
    if connection.kind == "shopify":
        from .shopify import ShopifySource

        version = connection.options.get("api_version")
        return ShopifySource(connection.address, str(found["token"]), api_version=version if isinstance(version, str)
                             else None, **extra)
    from .woocommerce import WooSource

    return WooSource(connection.address, str(found["key"]), str(found["secret"]), **extra)


def poll(engine: "JourneyEngine", cid: str, *, source: Source | None = None,
         sleep: Callable[[float], None] | None = None, stop: Callable[[], bool] | None = None) -> PollReport:
    """Polls connection `cid` once (every resource to its last page now; `stop()` turning true ends it
    between two pages, everything applied so far kept with its cursor). Returns the report; a
    ConnectorError is recorded on the connection and in the report, not raised. Raises
    ConnectorError only when the connection does not exist; the database's own errors propagate
    (the page in hand is not applied, its cursor not moved)."""
    connection = get_connection(engine.db, cid)
    if connection is None:
        raise ConnectorError(f"no connection {cid!r}: `journeys connections` lists them")
    report = PollReport(cid, connection.phase == HISTORY)
    owned = source is None
    try:
        if source is None:
            source = make_source(connection, sleep=sleep)
        for resource in source.resources:
            part = report.by_resource.setdefault(resource, Applied())
            for _ in range(MAX_PAGES):
                if stop is not None and stop():
                    report.stopped = True
                    break
                with engine.db.connect() as conn:
                    cursor = read_cursor(conn, cid, resource)
                page = source.page(resource, cursor, engine.clock.now())
                done = apply_page(engine, cid, resource, page.records, page.cursor, report.history,
                                  connection.created_at)
                report.pages += 1
                report.skipped += page.skipped
                part.add(done)
                report.applied.add(done)
                if page.done:
                    break
            if report.stopped:
                break
        if report.history and not report.stopped:
            set_phase(engine.db, cid, LIVE)
        record_poll(engine.db, cid, engine.clock.now())
    except ConnectionRemoved as exc:
        report.stopped, report.error = True, str(exc)
        log.info("polling %s: %s", cid, exc)
    except ConnectorError as exc:
        report.error = str(exc)
        log.warning("polling %s failed: %s", cid, exc)
        record_poll(engine.db, cid, engine.clock.now(), error=str(exc))
    except Exception as exc:
        record_poll(engine.db, cid, engine.clock.now(), error=f"an unexpected error: {one_line(exc)} (see the log)")
        raise
    finally:
        if owned and source is not None:
            source.close()
    for note in report.applied.notes[:20]:
        log.info("%s: %s", cid, note)
    return report
