"""A first look at an events file or an order export before importing it: what it is, and whether it
is past data (the app's import dialog offers history mode, checked when it is).

Only the first `limit` events or orders are read; nothing is written.
"""
from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from .file_import import contacts_text, events_text
from .import_rows import Problem
from .importers import event_records, json_lines
from .order_files import SHOPIFY, OrderIn, order_records
from .order_import import HISTORY_AGE

SAMPLE = 1_000


@dataclass(frozen=True)
class Peek:
    """`source`: what the file is, in words; `count`: events or orders among the first read;
    `oldest`/`newest`: their times; `problem`: why the file is no such file (then nothing else)."""
    source: str
    count: int = 0
    oldest: datetime | None = None
    newest: datetime | None = None
    problem: str | None = None

    old: int = 0        # of `count`, how many happened more than a day (HISTORY_AGE) before the file was read

    def is_past(self) -> bool:
        """Whether the file holds past data: some event read happened more than a day before it was read."""
        return self.old > 0

    def describe(self, unit: str) -> str:
        if self.problem:
            return self.problem
        if not self.count:
            return f"{self.source}: no {unit}s found in the first lines"
        span = (f"from {self.oldest:%d %b %Y} to {self.newest:%d %b %Y}"
                if self.oldest and self.newest and self.oldest.date() != self.newest.date()
                else f"on {self.newest:%d %b %Y}" if self.newest else "")
        more = "first " if self.count >= SAMPLE else ""
        return f"{self.source}: the {more}{self.count:,} {unit}{'' if self.count == 1 else 's'} {span}".strip()


def peek_events(path: str | Path, limit: int = SAMPLE) -> Peek:
    """The first `limit` events of a JSON-lines file; raises OSError/UnicodeDecodeError when unreadable."""
    _, _, lines = events_text(path)
    numbered = list(itertools.islice(json_lines(lines), limit))
    segment = any(_segment_line(raw) for _, raw in numbered[:50])
    times = [e.at for e in event_records(numbered) if not isinstance(e, Problem)]
    source = "Segment track and identify calls" if segment else "Events, one JSON object per line"
    return _peek(source, times)


def _peek(source: str, times: list[datetime]) -> Peek:
    limit = datetime.now(timezone.utc) - HISTORY_AGE
    return Peek(source, len(times), min(times, default=None), max(times, default=None),
                old=sum(t < limit for t in times))


def _segment_line(raw: str) -> bool:
    try:
        data = json.loads(raw)
    except ValueError:
        return False
    return isinstance(data, dict) and "contact" not in data and (
        "userId" in data or "anonymousId" in data or isinstance(data.get("batch"), list))


def peek_orders(path: str | Path, zone: ZoneInfo | None = None, limit: int = SAMPLE) -> Peek:
    """The first `limit` orders of a Shopify or WooCommerce export; raises OSError/UnicodeDecodeError."""
    _, _, lines = contacts_text(path)
    times: list[datetime] = []
    source = ""
    for item in order_records(lines, zone or ZoneInfo("UTC")):
        if isinstance(item, OrderIn):
            source = "Shopify order export" if item.source == SHOPIFY else "WooCommerce order export"
            times.append(item.placed_at)
            if len(times) >= limit:
                break
        elif isinstance(item, Problem) and item.line == 1:
            return Peek("", problem=item.reason)
    return _peek(source or "Order export", times)
