"""Statistics per node and per journey, over all time or a chosen range.

Cheap enough to poll every few seconds whatever the number of contacts: the
engine keeps counters as it goes (app/engine/counts.py), so all time is one
read of a few dozen rows, a range sums the hourly counters inside it, and
"waiting now" is one grouped count over the index of active runs.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Mapping, Sequence

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from app.journey.node_kinds import REPORTED_STATUSES
from app.journey.registry import UnknownKind, get_kind
from app.store.tables import runs, step_counts, step_counts_hourly

from .counts import DEFERRED, LEFT, REACHED, hour_of, message_metric

_MESSAGE_STATES = {message_metric(s): s for s in ("delivered", "opened", "clicked", "failed")}

# Why a contact left a message-status step without its status being checked, and the outcome it took
# then: the handler (app/engine/handlers.py) logs the reason as the counter's label.
BRANCH_REASONS: dict[str, str] = {"no_message": "no"}
# Reasons in words, for the canvas, the inspector and the CLI: never a raw key.
REASON_WORDS: dict[str, str] = {
    "no_message": "no message sent", "re_triggered": "re-triggered", "goal": "goal reached",
    "exit_condition": "exit condition met", "journey_stopped": "journey stopped", "error": "an error",
    # Skips: opted out of the channel, never asked while the journey needs consent, nowhere to send.
    "unsubscribed": "opted out", "no_consent": "no consent given", "no_address": "no address",
    "not_matching": "not among the recipients", "missing_variable": "a value was missing",
    "outside_whatsapp_window": "outside the 24-hour WhatsApp window", "template_error": "template error", "missing_node": "step no longer exists", "too_many_steps": "too many steps",
    # Deferrals: a send held back until quiet hours end, the frequency cap lets it through, or its set time.
    "quiet_hours": "quiet hours", "frequency_cap": "frequency cap", "scheduled": "scheduled",
}


def in_words(reason: str) -> str:
    """A counter's reason as people say it ("no_message" → "no message sent")."""
    return REASON_WORDS.get(reason, reason.replace("_", " ") or "other")


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
    branched: dict[str, int] = field(default_factory=dict)  # by outcome taken (message_status), whatever why
    branch_reasons: dict[str, int] = field(default_factory=dict)   # of those, the ones not checked, by why
    left: dict[str, int] = field(default_factory=dict)      # runs that exited while at the step, by reason
    errors: int = 0                  # runs that failed at the step (it raised, a template error…), and
                                     # trigger errors that had no run (judging an event, a scan)


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


def _counters(conn: Connection, journey_id: str, start: datetime | None, end: datetime | None):
    if start is None and end is None:
        c = step_counts.c
        return conn.execute(select(c.node_id, c.metric, c.label, c.count, c.revenue).where(c.journey_id == journey_id))
    h = step_counts_hourly.c
    where = [h.journey_id == journey_id]
    if start is not None:
        where.append(h.hour >= hour_of(start))
    if end is not None:
        last = hour_of(end)
        where.append(h.hour < (last if last == end else last + timedelta(hours=1)))
    return conn.execute(select(h.node_id, h.metric, h.label, func.sum(h.count), func.sum(h.revenue))
                        .where(*where).group_by(h.node_id, h.metric, h.label))


def _add(counts: dict[str, int], key: str, count: int) -> None:
    counts[key] = counts.get(key, 0) + count


def journey_stats(db: Engine | Connection, journey_id: str, start: datetime | None = None,
                  end: datetime | None = None) -> JourneyStats:
    """Counts for what happened in [start, end), in whole UTC hours (a range is widened to the hours
    it touches); `waiting` and `active` are always as of now."""
    if isinstance(db, Engine):
        with db.connect() as conn:
            return journey_stats(conn, journey_id, start, end)
    conn, out = db, JourneyStats()
    for node_id, metric, label, count, revenue in _counters(conn, journey_id, start, end):
        count, revenue = int(count), float(revenue or 0)
        if not node_id:
            if metric == "entered":
                out.entered += count
            elif metric == "goal":
                out.goals += count
            elif metric == "exited":
                _add(out.exited, label or "other", count)
            elif metric == "completed":
                out.completed += count
            continue
        node = out.nodes[node_id]
        if metric == REACHED:
            node.entered += count
        elif metric == "sent":
            node.sent += count
        elif metric == "skipped":
            _add(node.skipped, label or "other", count)
        elif metric == DEFERRED:
            node.deferred += count
        elif metric == "branched":
            # A contact with no message to check still leaves through an outcome: count it there.
            _add(node.branched, BRANCH_REASONS.get(label, label or "?"), count)
            if label in BRANCH_REASONS:
                _add(node.branch_reasons, label, count)
        elif metric == LEFT:
            _add(node.left, label or "other", count)
        elif metric == "failed":
            node.errors += count
        elif metric == "converted":
            node.converted += count
            node.revenue += revenue
            out.converted += count
            out.revenue += revenue
        elif metric in _MESSAGE_STATES:
            setattr(node, _MESSAGE_STATES[metric], getattr(node, _MESSAGE_STATES[metric]) + count)
    r = runs.c
    for node_id, count in conn.execute(select(r.node_id, func.count()).where(
            r.journey_id == journey_id, r.status == "active").group_by(r.node_id)):
        out.active += count
        if node_id:
            out.nodes[node_id].waiting = count
    return out


def outcome_figures(s: NodeStats, outcomes: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """(label, figure) for each outcome of a branching step, given as (name, label) in the kind's
    order: every arrival that left is on exactly one, those not checked said in words on the one
    they took ("No", "560 (12 no message sent)"). A label no outcome has (a reason the display does
    not know yet) follows in words rather than vanish."""
    rows = []
    for name, label in outcomes:
        why = [f"{n:,} {in_words(r)}" for r, n in sorted(s.branch_reasons.items())
               if n and BRANCH_REASONS.get(r) == name]
        rows.append((label, f"{s.branched.get(name, 0):,}" + (f" ({', '.join(why)})" if why else "")))
    known = {name for name, _label in outcomes}
    rows += [(in_words(key).capitalize(), f"{n:,}") for key, n in sorted(s.branched.items()) if key not in known]
    return rows


def shown_statuses(channel: str | None) -> tuple[str, ...]:
    """The delivery statuses worth a rate on a send step of `channel`: opens and clicks for email,
    delivery for SMS and WhatsApp (which report neither opens nor clicks)."""
    reported = REPORTED_STATUSES.get(channel or "email", frozenset())
    if "opened" in reported:
        return tuple(x for x in ("opened", "clicked") if x in reported)
    return ("delivered",) if "delivered" in reported else ()


def format_table(stats: JourneyStats, titles: dict[str, tuple[str, str]],
                 channels: Mapping[str, str] | None = None) -> list[str]:
    """`titles` maps node id to (kind, title), in the order to print; `channels` the send steps'
    channels (opened and clicked show "-" for a channel that reports neither)."""
    head: tuple[str, ...] = ("step", "kind", "entered", "waiting", "sent", "skipped", "deferred", "opened",
                             "clicked", "converted", "revenue", "outcomes", "left", "errors")
    body: list[tuple[str, ...]] = []
    for node_id, (kind, title) in titles.items():
        n = stats.nodes.get(node_id, NodeStats())
        skipped = ", ".join(f"{v} {in_words(k)}" for k, v in sorted(n.skipped.items())) or "0"
        shown = shown_statuses((channels or {}).get(node_id))
        opened, clicked = (str(n.opened) if "opened" in shown else "-"), (str(n.clicked) if "clicked" in shown else "-")
        outcomes = ", ".join(f"{label} {figure}" for label, figure in outcome_figures(
            n, [(o.name, o.label) for o in get_kind(kind).outcomes])) if _branches(kind) else "-"
        left = ", ".join(f"{v} {in_words(k)}" for k, v in sorted(n.left.items())) or "0"
        body.append((title[:34], kind, str(n.entered), str(n.waiting), str(n.sent), skipped, str(n.deferred),
                     opened, clicked, str(n.converted), f"{n.revenue:.2f}", outcomes, left, str(n.errors)))
    if not any(stats.nodes.get(node_id, NodeStats()).errors for node_id in titles):
        body = [row[:-1] for row in body]       # the errors column only when a step has some
        head = head[:-1]
    widths = [max(len(r[i]) for r in (head, *body)) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in (head, *body)]
    exited = ", ".join(f"{v} {in_words(k)}" for k, v in sorted(stats.exited.items())) or "0"
    lines.append(f"journey: entered {stats.entered}, active {stats.active}, completed {stats.completed}, "
                 f"converted {stats.converted} ({stats.revenue:.2f}), goals {stats.goals}, exited {exited}")
    return lines


def _branches(kind: str) -> bool:
    try:
        return len(get_kind(kind).outcomes) > 1
    except UnknownKind:
        return False
