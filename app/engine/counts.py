"""Statistics counters, kept up to date inside the engine's own transactions.

Every count the canvas shows (entered, sent, skipped, opened, converted, …)
is added to a small table in the same transaction as the step that caused it,
so a statistics poll reads a few dozen rows instead of aggregating the run log:
its cost does not grow with the number of contacts. Counts are kept twice: all
time (`step_counts`) and per UTC hour (`step_counts_hourly`, for a chosen range).

A batch adds in memory and writes each distinct counter once, as an upsert
that adds to what is stored, so concurrent writers never lose each other's counts.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.engine import Connection

from app.journey.schema import MAX_AMOUNT
from app.store.sql import insert_adding
from app.store.tables import step_counts, step_counts_hourly

from .bulk import Many

# Logged actions that belong to the journey as a whole rather than to the step they happened at.
JOURNEY_LEVEL = frozenset({"entered", "goal", "exited", "completed"})
REACHED = "reached"          # a run arrived at a step (the step's "entered")
DEFERRED = "deferred"        # a run was held back at a send step, counted once per run and step
LEFT = "left"                # a run exited while at a step (also counted as the journey's "exited")


def message_metric(status: str) -> str:
    """The counter of a delivery status (delivered, opened, clicked, failed…) on the step that sent it."""
    return f"message_{status}"


_KEY = ("journey_id", "node_id", "metric", "label")
_ADD_TOTAL = Many(lambda dialect: insert_adding(step_counts, dialect, _KEY, ("count", "revenue")).values(
    {c: bindparam(c) for c in (*_KEY, "count", "revenue")}))
_ADD_HOURLY = Many(lambda dialect: insert_adding(step_counts_hourly, dialect, ("journey_id", "hour", *_KEY[1:]),
                                                 ("count", "revenue")).values(
    {c: bindparam(c) for c in (*_KEY, "hour", "count", "revenue")}))


def _money(amount: float) -> float:
    """Rounded to cents and held within the revenue column (Numeric(14, 2)); the stored sum is held
    there too (`insert_adding`), so PostgreSQL never refuses what SQLite would keep."""
    return min(round(amount, 2), MAX_AMOUNT)


def hour_of(at: datetime) -> datetime:
    """The start of the UTC hour holding `at`."""
    if at.tzinfo is not timezone.utc:     # the engine's own times are UTC already: skip the conversion
        at = at.astimezone(timezone.utc)
    return at.replace(minute=0, second=0, microsecond=0)


class Counts:
    """Counter increments of one transaction, written with `write`."""

    def __init__(self) -> None:
        self._added: dict[tuple[str, str, str, str, datetime], list[float]] = {}
        self._at: datetime | None = None      # the last time seen and its hour: a step logs a few rows at once
        self._hour: datetime | None = None

    def add(self, journey_id: str, node_id: str | None, metric: str, at: datetime, label: str | None = None,
            revenue: float | None = None) -> None:
        if at is not self._at or self._hour is None:
            self._at, self._hour = at, hour_of(at)
        key = (journey_id, node_id or "", metric, label or "", self._hour)
        found = self._added.get(key)
        if found is None:
            self._added[key] = [1, revenue or 0.0]
        else:
            found[0] += 1
            found[1] += revenue or 0.0

    def add_logged(self, journey_id: str, node_id: str | None, action: str, at: datetime, label: str | None,
                   revenue: float | None) -> None:
        """Counts one run-log row (an action at a step, or of the run as a whole). An exit is counted
        at its step too, so a step's arrivals add up: outcomes (or moved on) + waiting + left."""
        self.add(journey_id, None if action in JOURNEY_LEVEL else node_id, action, at, label, revenue)
        if action == "exited" and node_id:
            self.add(journey_id, node_id, LEFT, at, label)

    def write(self, conn: Connection) -> None:
        if not self._added:
            return
        hourly: list[dict[str, Any]] = []
        totals: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        # In key order, so two writers touching the same counters lock them in the same order.
        for (journey_id, node_id, metric, label, hour), (count, revenue) in sorted(self._added.items()):
            row = {"journey_id": journey_id, "node_id": node_id, "metric": metric, "label": label}
            hourly.append({**row, "hour": hour, "count": int(count), "revenue": _money(revenue)})
            total = totals.setdefault((journey_id, node_id, metric, label), {**row, "count": 0, "revenue": 0.0})
            total["count"] += int(count)
            total["revenue"] += revenue
        for total in totals.values():
            total["revenue"] = _money(total["revenue"])
        _ADD_HOURLY.run(conn, hourly)
        _ADD_TOTAL.run(conn, list(totals.values()))
        self._added.clear()
