"""`journeys contacts show ID` (its timeline part) and `journeys contacts here JOURNEY STEP`.

The timeline and the step lists are the engine's (app/engine/timeline.py, app/engine/here.py);
this module only prints them.
"""
from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from app.cli import CommandError, _open_engine


def print_timeline(db: Any, contact_id: str, limit: int, oldest_first: bool) -> None:
    """Prints the contact's timeline, at most `limit` entries, newest first unless `oldest_first`."""
    from app.engine.timeline import contact_timeline

    page = contact_timeline(db, contact_id, limit=limit, oldest_first=oldest_first)
    if page is None:
        return
    order = "oldest first" if oldest_first else "newest first"
    if not page.entries:
        print("Timeline: nothing has happened to this contact yet")
        return
    zones = (f"local time {page.contact_zone}" + (f", business time {page.business_zone}"
                                                  if page.business_zone != page.contact_zone else ""))
    print(f"Timeline ({order}; {zones})")
    for e in page.entries:
        when = e.local + (f"  [{e.business}]" if page.business_zone != page.contact_zone else "")
        where = (e.journey + (f" › {e.step}" if e.step else "") + ": ") if e.journey else ""
        print(f"  {when}  {where}{e.words}")
        if e.message is not None:
            m = e.message
            steps = " → ".join(f"{h.status} {h.local}".rstrip() for h in m.history)
            print(f"      {m.channel} to {m.recipient}" + (f" “{m.subject}”" if m.subject else "") + f": {steps}")
            if m.error or m.error_code:
                print(f"      provider: {' '.join(x for x in (m.error_code, m.error) if x)}")
    if page.next is not None:
        print(f"  … more: --limit {limit * 2}" + ("" if oldest_first else " (or --oldest-first)"))


def _find_step(journey: Any, text: str) -> Any:
    nodes = list(journey.nodes.values())
    exact = [n for n in nodes if n.id == text] or [n for n in nodes if n.title.lower() == text.strip().lower()]
    found = exact or [n for n in nodes if n.id.startswith(text) or text.strip().lower() in n.title.lower()]
    if len(found) == 1:
        return found[0]
    listed = "; ".join(f"{n.id[:8]} {n.title}" for n in nodes)
    if not found:
        raise CommandError(f"no step {text!r} in journey {journey.name!r}; its steps: {listed}")
    raise CommandError(f"{text!r} names {len(found)} steps of journey {journey.name!r}: "
                       + "; ".join(f"{n.id[:8]} {n.title}" for n in found) + " — give more of the id")


def _when(at: datetime | None) -> str:
    from app.engine.timeline_words import short_time
    from app.engine.timeutil import UTC

    return short_time(at, UTC) + " UTC" if at is not None else "-"


def cmd_contacts_here(args: argparse.Namespace) -> int:
    from app.engine.here import who_is_here, who_went
    from app.journey.fileformat import JourneyFileError, from_document
    from app.store.journeys import JourneyStore

    if args.limit < 1:
        raise CommandError(f"--limit {args.limit}: give 1 or more")
    db = _open_engine(args.db, write=False)
    store = JourneyStore(db)
    row = store.find(args.journey)
    if row is None:
        raise CommandError(f"no journey named {args.journey!r} in the store (`journeys list` shows them)")
    try:
        journey = from_document(store.load_draft(row.id), f"journey {row.name!r}")
    except JourneyFileError as exc:
        raise CommandError(str(exc)) from None
    node = _find_step(journey, args.step)
    if args.went is not None:
        outcomes = [o.name for o in node.spec.outcomes] if len(node.spec.outcomes) > 1 else []
        if args.went and args.went not in outcomes:
            raise CommandError(f"--went {args.went!r}: step {node.title!r} has "
                               + (f"the outcomes {', '.join(outcomes)}" if outcomes else "no outcomes; use --went ''"))
        page = who_went(db, row.id, node.id, args.went or None, limit=args.limit)
        print(f"{row.name} › {node.title}: " + (f"went “{args.went}”" if args.went else "passed") + ", newest first")
        for c in page.rows:
            print(f"  {_when(c.at)}  {c.contact_id}  {c.name or c.email or c.phone or ''}".rstrip())
    else:
        page = who_is_here(db, row.id, node.id, limit=args.limit)
        print(f"{row.name} › {node.title}: waiting now, soonest to move on first")
        for c in page.rows:
            print(f"  moves on {_when(c.due_at)}  {c.contact_id}  {c.name or c.email or c.phone or ''}".rstrip())
    if not page.rows:
        print("  nobody")
    elif page.next is not None:
        print(f"  … more: --limit {args.limit * 2}")
    return 0


def add_here_command(contacts: argparse._SubParsersAction, db_parent: argparse.ArgumentParser) -> None:
    text = ("List the contacts waiting at a step now (with when they move on), or with --went those that took "
            "an outcome of it (--went yes) or passed it (--went '').")
    p = contacts.add_parser("here", parents=[db_parent], help=text, description=text)
    p.set_defaults(handler=cmd_contacts_here)
    p.add_argument("journey", metavar="JOURNEY", help="the journey's name or id")
    p.add_argument("step", metavar="STEP", help="the step's id (or its start) or name")
    p.add_argument("--went", metavar="OUTCOME", help="who went this way: an outcome (yes, no), or '' for passed")
    p.add_argument("--limit", type=int, default=50, metavar="N", help="show at most N (default 50)")
