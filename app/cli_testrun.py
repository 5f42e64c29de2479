"""`journeys test-run`: one contact through a journey file on a virtual clock, told as a story.

The contact is a one-contact file (JSON object or CSV with a header, as `journeys contacts import`
reads) or the id of a contact in the store (--db); the store is only read. Exit codes: 0 the test
ran; 1 the journey has errors (listed as `journeys validate --active` lists them); 2 a bad argument
or file (a bad --event or --then, no such contact).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from app.cli import PROBLEMS, CommandError, _open_engine

_CONTACT_KEYS = {"id", "first_name", "last_name", "email", "phone", "timezone", "tags", "consent", "attributes",
                 "subscribed", "unsubscribed"}


def parse_event(text: str) -> tuple[str, datetime]:
    """`TYPE@ISO` ("cart_abandoned@2026-03-02T10:00:00Z"; a time without an offset is UTC) → (type, time).
    Raises CommandError saying the accepted form."""
    from app.journey.schema import parse_datetime

    form = "write it as TYPE@TIME, e.g. cart_abandoned@2026-03-02T10:00:00Z"
    kind, at, rest = text.partition("@")
    kind = kind.strip()
    if not at or not kind or not rest.strip():
        raise CommandError(f"--event {text!r}: {form}")
    if not kind.replace("_", "").isalnum() or not kind[0].isalpha():
        raise CommandError(f"--event {text!r}: {kind!r} is not an event type (letters, digits and _); {form}")
    rest = rest.strip()
    try:
        when = parse_datetime(rest)
    except ValueError:
        try:
            when = datetime.fromisoformat(rest)
        except ValueError:
            raise CommandError(f"--event {text!r}: {rest!r} is not an ISO-8601 time; {form}") from None
        when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    return kind.lower(), when


def _contact_from_json(path: str, text: str):
    from app.engine.test_run import TestContact, TestRunError
    from app.engine.test_run_engine import consent_states

    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"{path}: not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    if not isinstance(data, dict):
        raise CommandError(f"{path}: a test contact is one JSON object such as "
                           '{"id": "t1", "first_name": "Emma", "email": "emma@example.com", "timezone": "Europe/London", '
                           '"consent": {"email": "subscribed"}}')
    def text_of(key: str) -> str | None:
        value = data.get(key)
        if value is not None and not isinstance(value, (str, int, float)):
            raise CommandError(f"{path}: /{key} must be text")
        return str(value) if value not in (None, "") else None
    raw_consent = data.get("consent") or {}
    if not isinstance(raw_consent, dict):
        raise CommandError(f"{path}: /consent must map channels to subscribed, unsubscribed or unknown")
    said: list[tuple[str, str]] = [(str(c), str(s)) for c, s in raw_consent.items()]
    for key in ("subscribed", "unsubscribed"):
        listed = data.get(key) or []
        for item in (listed if isinstance(listed, list) else [listed]):
            said += [(c, key) for c in str(item).replace(";", ",").split(",") if c.strip()]
    try:
        consent = consent_states(said)          # an opt-out wins over any opt-in for the same channel
    except TestRunError as exc:
        raise CommandError(f"{path}: {exc}") from None
    tags = data.get("tags") or []
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.replace(";", ",").split(",") if t.strip()]
    attributes = data.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise CommandError(f"{path}: /attributes must be an object")
    attributes = {**{k: v for k, v in data.items() if k not in _CONTACT_KEYS}, **attributes}
    return TestContact(id=text_of("id") or "test-contact", first_name=text_of("first_name") or "",
                       last_name=text_of("last_name") or "", email=text_of("email"), phone=text_of("phone"),
                       timezone=text_of("timezone"), consent=consent, attributes=attributes,
                       tags=tuple(str(t) for t in tags))


def _contact_from_csv(path: str, text: str):
    from app.engine.importers import parse_contacts
    from app.engine.test_run import TestContact

    rows, problems = parse_contacts(text)
    if problems:
        raise CommandError(f"{path}: {problems[0]}")
    if len(rows) != 1:
        raise CommandError(f"{path}: holds {len(rows)} contacts; a test run is for one: give a file with one "
                           "row, or import the file and name the contact with --contact ID")
    row = rows[0]
    f = row.fields
    consent = {c: "subscribed" for c in row.subscribed}
    consent.update({c: "unsubscribed" for c in row.unsubscribed})     # an opt-out is taken when both say
    return TestContact(id=row.id, first_name=f.get("first_name") or "", last_name=f.get("last_name") or "",
                       email=f.get("email"), phone=f.get("phone"), timezone=f.get("timezone"), consent=consent,
                       attributes=dict(row.attributes), tags=tuple(row.tags))


def _contact_file(path: str):
    from app.engine.importers import read_csv_text, read_text

    csv = not path.lower().endswith(".json")
    try:
        text = read_csv_text(path) if csv else read_text(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"{path}: cannot be read ({getattr(exc, 'strerror', None) or exc})") from None
    if not csv or text.lstrip().startswith(("{", "[")):
        return _contact_from_json(path, text)
    return _contact_from_csv(path, text)


_notes: list[str] = []      # said on stderr after the story: a run that went, with a caveat


def _live_db(url: str | None, needed: bool) -> Any:
    """The store, opened to be read only and never written, not even upgraded: the one named (--db,
    $JOURNEYS_DB) or the app's own. None when there is none and the contact is a file (a test then
    needs no store: the business's time zone is UTC). CommandError when the contact is named by id and
    no store at this app's schema holds it."""
    from sqlalchemy.engine import make_url

    from app.store.db import open_database, resolve_database_url
    from app.store.errors import StoreError
    from app.store.migrate import schema_state

    resolved = resolve_database_url(url)
    parsed = make_url(resolved) if "://" in resolved else None
    database = parsed.database if parsed is not None and parsed.get_backend_name() == "sqlite" else None
    if database and database != ":memory:" and not Path(database).is_file():
        if needed:
            raise CommandError(f"no store at {database}: a contact named by id is read from a store; give "
                               "--db URL, or describe the contact in a file (--contact FILE.json)")
        if url or os.environ.get("JOURNEYS_DB"):     # a store was named: say (after the story) it was not used
            _notes.append(f"journeys test-run: no store at {database}; the business's time zone was taken as UTC")
        return None
    try:
        db = open_database(url, migrate=False, write=False)
        state = schema_state(db)
    except StoreError as exc:
        raise CommandError(str(exc)) from None
    if state != "current":
        db.dispose()
        if needed:
            raise CommandError("the store was written by another version of Journey Studio and a test run never "
                               "changes it: open it once with the app (or `journeys list`), then test again")
        print("journeys test-run: the store is at another schema version and is left alone; contacts without a "
              "time zone use UTC", file=sys.stderr)
        return None
    return db


def cmd_test_run(args: argparse.Namespace) -> int:
    """Prints the story; returns 0, or PROBLEMS (1) when the journey has errors; CommandError (2) for bad input."""
    from app.engine.test_run import TestContact, TestRunError, TestScript, parse_then, run_test, story_text
    from app.engine.test_run_engine import DraftNotReady
    from app.journey.fileformat import JourneyFileError, load

    _notes.clear()
    event_type, at = parse_event(args.event)
    try:
        then = tuple(parse_then(t) for t in args.then or ())
    except TestRunError as exc:
        raise CommandError(f"--then {exc}") from None
    try:
        journey = load(args.journey)
    except JourneyFileError as exc:
        raise CommandError(str(exc)) from None
    looks_like_file = Path(args.contact).is_file() or args.contact.lower().endswith((".json", ".csv"))
    if looks_like_file and not Path(args.contact).is_file():
        raise CommandError(f"--contact {args.contact}: no such file")
    contact = _contact_file(args.contact) if looks_like_file else TestContact(id=args.contact)
    live = _live_db(args.db, needed=not looks_like_file)
    script = TestScript(contact, event_type, at, then=then, live_contact_id=None if looks_like_file else args.contact)
    try:
        run = run_test(journey, script, live_db=live)
    except DraftNotReady as exc:
        from app.cli import print_problems

        print_problems(args.journey, exc.journey, exc.problems, quiet=False)
        print(f"{args.journey}: not tested: {len(exc.problems)} error(s) to fix first "
              f"(`journeys validate --active {args.journey}` lists them too)", file=sys.stderr)
        return PROBLEMS
    except TestRunError as exc:
        raise CommandError(str(exc)) from None
    finally:
        if live is not None:
            live.dispose()
    print(f"{journey.name}: test run for {script.live_contact_id or contact.id} (nothing sent, the store unchanged; "
          f"{run.elapsed * 1000:.0f} ms)")
    print(story_text(run))
    for note in _notes:
        print(note, file=sys.stderr)
    _notes.clear()
    return 0


def add_test_run_command(sub: argparse._SubParsersAction, db_parent: argparse.ArgumentParser) -> None:
    text = ("Run a journey file for one test contact on a virtual clock (the real engine, a throwaway database, "
            "nothing sent) and print the contact's story.")
    p = sub.add_parser("test-run", parents=[db_parent], help=text, description=text,
                       epilog='e.g. journeys test-run cart.json --contact emma.json '
                              '--event cart_abandoned@2026-03-02T18:00:00Z --then "opened@+2h"')
    p.set_defaults(handler=cmd_test_run)
    p.add_argument("journey", metavar="JOURNEY.json")
    p.add_argument("--contact", required=True, metavar="FILE|ID",
                   help="a one-contact file (.json object or .csv with a header) or the id of a contact in the store")
    p.add_argument("--event", required=True, metavar="TYPE@ISO",
                   help="the trigger event and its time, e.g. cart_abandoned@2026-03-02T10:00:00Z (no offset: UTC)")
    p.add_argument("--then", action="append", metavar="ACTION",
                   help='what the contact does afterwards, repeatable: "opened@+2h", "clicked@+30m", '
                        '"ordered@+3d:40.00", "unsubscribed@+1d", "nothing"')
