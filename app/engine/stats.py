"""Statistics per node and per journey over a time range, as a handful of SQL aggregates.

Cheap enough to poll every few seconds: each query is a GROUP BY over an
indexed range of one journey's rows (run_log by journey/node/time, messages by
journey/node, runs by journey/node/status).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, case, distinct, func, select
from sqlalchemy.engine import Connection, Engine

from app.store.tables import messages, run_log, runs

_MESSAGE_STATES = ("delivered", "opened", "clicked", "failed")


@dataclass
class NodeStats:
    entered: int = 0
    waiting: int = 0                 # active runs at the node now
    sent: int = 0
    skipped: dict[str, int] = field(default_factory=dict)   # by reason
    deferred: int = 0                # runs deferred at least once
    delivered: int = 0
    opened: int = 0
    clicked: int = 0
    failed: int = 0
    converted: int = 0
    revenue: float = 0.0
    branched: dict[str, int] = field(default_factory=dict)  # by outcome (message_status)


@dataclass
class JourneyStats:
    entered: int = 0
    active: int = 0
    converted: int = 0
    goals: int = 0
    revenue: float = 0.0
    exited: dict[str, int] = field(default_factory=dict)     # by reason
    completed: int = 0
    nodes: dict[str, NodeStats] = field(default_factory=lambda: defaultdict(NodeStats))


def _in_range(column, start: datetime | None, end: datetime | None) -> list:
    where = []
    if start is not None:
        where.append(column >= start)
    if end is not None:
        where.append(column < end)
    return where


def journey_stats(db: Engine | Connection, journey_id: str, start: datetime | None = None,
                  end: datetime | None = None) -> JourneyStats:
    """Counts for events in [start, end); `waiting` and `active` are always as of now."""
    if isinstance(db, Engine):
        with db.connect() as conn:
            return journey_stats(conn, journey_id, start, end)
    conn, out = db, JourneyStats()
    log = run_log.c
    # Plain counts and sums only: with no DISTINCT the grouping is answered from the
    # covering index in order. Deferrals are counted per run below (a run can defer twice).
    rows = conn.execute(select(log.node_id, log.action, log.reason, log.outcome, func.count(), func.sum(log.revenue))
                        .where(log.journey_id == journey_id, *_in_range(log.at, start, end))
                        .group_by(log.node_id, log.action, log.reason, log.outcome))
    for node_id, action, reason, outcome, count, revenue in rows:
        node = out.nodes[node_id] if node_id else NodeStats()
        if action == "sent":
            node.sent += count
        elif action == "skipped":
            node.skipped[reason or "other"] = node.skipped.get(reason or "other", 0) + count
        elif action == "branched":
            node.branched[outcome or "?"] = node.branched.get(outcome or "?", 0) + count
        elif action == "converted":
            node.converted += count
            node.revenue += float(revenue or 0)
            out.converted += count
            out.revenue += float(revenue or 0)
        elif action == "goal":
            out.goals += count
        elif action == "entered":
            out.entered += count
        elif action == "exited":
            out.exited[reason or "other"] = out.exited.get(reason or "other", 0) + count
        elif action == "completed":
            out.completed += count
    # Runs that reached each node: one distinct count per node (a deferred send logs twice).
    for node_id, reached in conn.execute(
            select(log.node_id, func.count(distinct(log.run_id)))
            .where(log.journey_id == journey_id, log.node_id.is_not(None),
                   log.action.in_(("entered", "sent", "skipped", "deferred", "waited", "branched", "tagged", "failed")),
                   *_in_range(log.at, start, end)).group_by(log.node_id)):
        out.nodes[node_id].entered = reached
    for node_id, deferred in conn.execute(
            select(log.node_id, func.count(distinct(log.run_id)))
            .where(log.journey_id == journey_id, log.action == "deferred", *_in_range(log.at, start, end))
            .group_by(log.node_id)):
        out.nodes[node_id].deferred = deferred
    # Delivery feedback: one pass over the journey's messages, counting each status inside the range.
    m = messages.c
    counts = [func.sum(case((and_(m[f"{state}_at"].is_not(None), *_in_range(m[f"{state}_at"], start, end)), 1),
                            else_=0)) for state in _MESSAGE_STATES]
    for node_id, *values in conn.execute(select(m.node_id, *counts).where(m.journey_id == journey_id)
                                         .group_by(m.node_id)):
        for state, value in zip(_MESSAGE_STATES, values):
            if value:
                setattr(out.nodes[node_id], state, int(value))
    for node_id, count in conn.execute(select(runs.c.node_id, func.count()).where(
            runs.c.journey_id == journey_id, runs.c.status == "active").group_by(runs.c.node_id)):
        out.active += count
        if node_id:
            out.nodes[node_id].waiting = count
    return out


def format_table(stats: JourneyStats, titles: dict[str, tuple[str, str]]) -> list[str]:
    """`titles` maps node id to (kind, title), in the order to print."""
    head = ("step", "kind", "entered", "waiting", "sent", "skipped", "deferred", "opened", "clicked",
            "converted", "revenue")
    body = []
    for node_id, (kind, title) in titles.items():
        n = stats.nodes.get(node_id, NodeStats())
        skipped = ", ".join(f"{v} {k}" for k, v in sorted(n.skipped.items())) or "0"
        body.append((title[:34], kind, str(n.entered), str(n.waiting), str(n.sent), skipped, str(n.deferred),
                     str(n.opened), str(n.clicked), str(n.converted), f"{n.revenue:.2f}"))
    widths = [max(len(r[i]) for r in (head, *body)) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in (head, *body)]
    exited = ", ".join(f"{v} {k}" for k, v in sorted(stats.exited.items())) or "0"
    lines.append(f"journey: entered {stats.entered}, active {stats.active}, completed {stats.completed}, "
                 f"converted {stats.converted} ({stats.revenue:.2f}), goals {stats.goals}, exited {exited}")
    return lines
