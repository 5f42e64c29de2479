"""Who is at a step now, and who went a step's way: paged lists for the canvas and the CLI.

"Who is here?" reads the active runs at a step through the runs (journey_id, status, node_id,
due_at) index, in the order the contacts move on; "Who went this way?" reads the run log through
its (journey_id, node_id, outcome, at) index, newest first. Both read one page (plus one row to
know whether there is more) and join the contacts of that page only: 100,000 contacts waiting
show their first page as fast as ten. Paging is by keyset (`after`: the previous page's `next`).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Connection, Engine

from app.store.tables import contacts, run_log, runs

DEFAULT_PAGE = 50
# The run-log actions that mean "the contact passed this step" on a step without outcomes (one per
# visit: a deferral is followed by its send or skip, so it is not counted on its own).
PASSED = ("entered", "waited", "sent", "skipped", "tagged", "failed")


@dataclass(frozen=True)
class ContactAtStep:
    contact_id: str
    name: str                        # first and last name, "" when neither is known
    email: str | None
    phone: str | None
    run_id: int
    at: datetime                     # here: since when (the run's last move); went: when it went that way
    due_at: datetime | None = None   # here: when the contact moves on (at the latest, for a status check)
    outcome: str | None = None       # went: the outcome taken
    reason: str | None = None        # went: the logged reason (no_message…)


@dataclass
class StepPage:
    rows: list[ContactAtStep]
    next: tuple[Any, ...] | None     # pass as `after` for the next page; None: this was the last


def _name(first: str | None, last: str | None) -> str:
    return " ".join(p for p in (first, last) if p)


def _check(limit: int) -> None:
    if limit < 1:
        raise ValueError(f"a page holds at least one contact, not {limit}")


def who_is_here(db: Engine | Connection, journey_id: str, node_id: str, *, limit: int = DEFAULT_PAGE,
                after: tuple[Any, ...] | None = None) -> StepPage:
    """The contacts waiting at the step now (active runs there), soonest to move on first, at most
    `limit`, past `after` ((due_at, run_id) of the previous page's last row). Raises ValueError for a
    `limit` below 1."""
    _check(limit)
    if isinstance(db, Engine):
        with db.connect() as conn:
            return who_is_here(conn, journey_id, node_id, limit=limit, after=after)
    r = runs.c
    where = [r.journey_id == journey_id, r.status == "active", r.node_id == node_id]
    if after is not None:
        due, run_id = after
        where.append(and_(r.due_at >= due, or_(r.due_at > due, r.id > run_id)))
    page = (select(r.id, r.contact_id, r.due_at, r.updated_at).where(*where)
            .order_by(r.due_at, r.id).limit(limit + 1)).subquery()
    c = contacts.c
    query = (select(page, c.first_name, c.last_name, c.email, c.phone)
             .join(contacts, contacts.c.id == page.c.contact_id, isouter=True)
             .order_by(page.c.due_at, page.c.id))
    found = [ContactAtStep(x.contact_id, _name(x.first_name, x.last_name), x.email, x.phone, x.id, x.updated_at,
                           x.due_at) for x in db.execute(query)]
    more = len(found) > limit
    found = found[:limit]
    return StepPage(found, (found[-1].due_at, found[-1].run_id) if more else None)


def who_went(db: Engine | Connection, journey_id: str, node_id: str, outcome: str | None = None, *,
             limit: int = DEFAULT_PAGE, after: tuple[Any, ...] | None = None) -> StepPage:
    """The contacts that took `outcome` of a branching step (outcome None: that passed a step without
    outcomes), newest first, at most `limit`, past `after` ((at, log id) of the previous page's last
    row). A contact that went the way twice (two runs) is listed for each. Raises ValueError for a
    `limit` below 1."""
    _check(limit)
    if isinstance(db, Engine):
        with db.connect() as conn:
            return who_went(conn, journey_id, node_id, outcome, limit=limit, after=after)
    g = run_log.c
    where = [g.journey_id == journey_id, g.node_id == node_id]
    if outcome is None:
        where += [g.outcome.is_(None), g.action.in_(PASSED)]
    else:
        where += [g.outcome == outcome, g.action == "branched"]
    if after is not None:
        at, log_id = after
        where.append(and_(g.at <= at, or_(g.at < at, g.id < log_id)))
    page = (select(g.id, g.run_id, g.contact_id, g.at, g.outcome, g.reason).where(*where)
            .order_by(g.at.desc(), g.id.desc()).limit(limit + 1)).subquery()
    c = contacts.c
    query = (select(page, c.first_name, c.last_name, c.email, c.phone)
             .join(contacts, contacts.c.id == page.c.contact_id, isouter=True)
             .order_by(page.c.at.desc(), page.c.id.desc()))
    rows = db.execute(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    found = [ContactAtStep(x.contact_id, _name(x.first_name, x.last_name), x.email, x.phone, x.run_id, x.at,
                           outcome=x.outcome, reason=x.reason) for x in rows]
    return StepPage(found, (rows[-1].at, rows[-1].id) if more else None)
