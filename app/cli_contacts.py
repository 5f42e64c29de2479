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
    zones = (f"local time {page.contact_zone}" + ("" if page.own_zone else " (the contact has no time zone)")
             + (f", business time {page.business_zone}" if page.business_zone != page.contact_zone else ""))
    print(f"Timeline ({order}; {zones})")
    for e in page.entries:
        when = e.local + (f"  [{e.business}]" if page.business_zone != page.contact_zone else "")
        where = (e.journey + (f" › {e.step}" if e.step else "") + ": ") if e.journey else ""
        print(f"  {when}  {where}{e.words}")
        if e.message is not None:
            m = e.message
            steps = " → ".join(f"{h.words[:1].lower()}{h.words[1:]} {h.local}".rstrip() for h in m.history)
            print(f"      {m.channel} to {m.recipient}" + (f" “{m.subject}”" if m.subject else "") + f": {steps}")
            if m.error or m.error_code:
                print(f"      provider: {' '.join(x for x in (m.error_code, m.error) if x)}")
    if page.next is not None:
        print(f"  … more: --limit {limit * 2}" + ("" if oldest_first else " (or --oldest-first)"))


def _find_step(journey: Any, text: str, gone: dict[str, Any] | None = None) -> Any:
    """The step `text` names (its id, the start of its id, its name or part of it) in the draft, else
    among `gone` (steps of published versions no longer in the draft, where contacts may still wait).
    Raises CommandError listing the steps when none or several match."""
    def matching(nodes: list[Any]) -> list[Any]:
        exact = [n for n in nodes if n.id == text] or [n for n in nodes if n.title.lower() == text.strip().lower()]
        return exact or [n for n in nodes if n.id.startswith(text) or text.strip().lower() in n.title.lower()]

    nodes = list(journey.nodes.values())
    found = matching(nodes) or (matching(list(gone.values())) if gone and text.strip() else [])
    if len(found) == 1:
        return found[0]
    listed = "; ".join(f"{n.id[:8]} {n.title}" for n in nodes)
    if not found:
        raise CommandError(f"no step {text!r} in journey {journey.name!r}; its steps: {listed}")
    raise CommandError(f"{text!r} names {len(found)} steps of journey {journey.name!r}: "
                       + "; ".join(f"{n.id[:8]} {n.title}" for n in found) + " — give more of the id")


def _gone_steps(store: Any, journey_id: str, draft: Any) -> dict[str, Any]:
    """Steps of the journey's published versions (newest first) that the draft no longer has."""
    from app.journey.fileformat import JourneyFileError, from_document

    gone: dict[str, Any] = {}
    for version in sorted(store.versions(journey_id), reverse=True):
        try:
            doc = from_document(store.load_version(journey_id, version), f"journey {journey_id} version {version}")
        except JourneyFileError:
            continue
        for node in doc.nodes.values():
            if node.id not in draft.nodes and node.id not in gone:
                gone[node.id] = node
    return gone


def _when(at: datetime | None, zone: Any) -> str:
    """`at` in the business's zone, named ("Mon 2 Mar 13:20 Europe/Berlin"), as the window shows it."""
    from app.engine.timeline_words import short_time

    return f"{short_time(at, zone)} {zone.key}" if at is not None else "-"


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
    node = _find_step(journey, args.step, _gone_steps(store, row.id, journey))
    from app.engine.timeutil import contact_zone
    from app.store.app_settings import business_timezone

    zone = contact_zone(business_timezone(db) or "")
    title = node.title + ("" if node.id in journey.nodes else " (no longer in the draft)")
    if args.went is not None:
        outcomes = {o.name: o for o in node.spec.outcomes} if len(node.spec.outcomes) > 1 else {}
        # As the window shows it (Went “No”) or as the file names it (no): either case, either word.
        said = args.went.strip().lower()
        outcome = next((name for name, o in outcomes.items() if said in (name.lower(), str(o.label).lower())), None)
        if said and outcome is None:
            raise CommandError(f"--went {args.went!r}: step {node.title!r} has "
                               + (f"the outcomes {', '.join(outcomes)}" if outcomes else "no outcomes; use --went ''"))
        page = who_went(db, row.id, node.id, outcome, limit=args.limit)
        print(f"{row.name} › {title}: " + (f"went “{outcomes[outcome].label}”" if outcome else "passed")
              + ", newest first")
        for c in page.rows:
            print(f"  {_when(c.at, zone)}  {c.contact_id}  {c.name or c.email or c.phone or ''}".rstrip())
    else:
        page = who_is_here(db, row.id, node.id, limit=args.limit)
        print(f"{row.name} › {title}: waiting now, soonest to move on first")
        for c in page.rows:
            print(f"  moves on {_when(c.due_at, zone)}  {c.contact_id}  {c.name or c.email or c.phone or ''}".rstrip())
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
