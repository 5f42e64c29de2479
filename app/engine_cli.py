"""The engine's headless commands: contacts import, events import, simulate, stats.

Kept apart from app/cli.py so the engine's commands live with the engine;
`app.cli.build_parser` calls `add_commands`.
"""
from __future__ import annotations

import argparse
import json
import sys
from functools import partial
from datetime import datetime, timezone
from typing import Callable

from app.cli import PROBLEMS, CommandError, _open_engine


def _parse_time(text: str | None, option: str) -> datetime | None:
    if not text:
        return None
    from app.journey.schema import parse_datetime

    try:
        return parse_datetime(text)
    except ValueError:
        try:   # a date alone, or a time without an offset, is read as UTC
            value = datetime.fromisoformat(text)
        except ValueError:
            raise CommandError(f"{option} {text!r} is not an ISO-8601 time such as 2026-03-01T10:00:00Z") from None
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _read(path: str, csv: bool = False) -> str:
    from app.engine.importers import read_csv_text, read_text

    try:
        return read_csv_text(path) if csv else read_text(path)
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"{path}: cannot be read ({getattr(exc, 'strerror', None) or exc})") from None


def _report(path: str, problems: list) -> None:
    for problem in problems:
        print(f"{path}: {problem} (skipped)", file=sys.stderr)


def _contacts(path: str):
    """The good rows of a contacts file and its bad ones (reported on stderr, line by line). A file
    refused as a whole — empty, or a first line that names no `id` column — is no contacts file:
    CommandError (exit 2), as for a file that cannot be read."""
    from app.engine.importers import parse_contacts

    rows, problems = parse_contacts(_read(path, csv=True))
    header = [p for p in problems if p.line == 1]       # rows start on line 2: line 1 is the header
    if header and not rows:
        raise CommandError(f"{path}: {header[0]}; nothing was imported")
    _report(path, problems)
    return rows, problems


def _events(path: str):
    from app.engine.importers import parse_events

    found, problems = parse_events(_read(path))
    _report(path, problems)
    return found, problems


class _Progress:
    """Progress of a big import on stderr: one line rewritten in place on a terminal, else a line
    every PROGRESS_EVERY rows (a log stays short; small files print nothing)."""

    EVERY = 100_000

    def __init__(self, unit: str) -> None:
        self.unit, self.tty, self.next, self.shown = unit, sys.stderr.isatty(), self.EVERY, False

    def __call__(self, done: int, share: float) -> None:
        if self.tty:
            print(f"\r{done:,} {self.unit} ({share:.0%} of the file)…", end="", file=sys.stderr, flush=True)
            self.shown = True
        elif done >= self.next:
            print(f"{done:,} {self.unit}… ({share:.0%} of the file)", file=sys.stderr, flush=True)
            self.next = done + self.EVERY

    def clear(self) -> None:
        if self.shown:
            print("\r\033[K", end="", file=sys.stderr, flush=True)
            self.shown = False

    def problem(self, path: str, problem: object) -> None:
        self.clear()
        print(f"{path}: {problem} (skipped)", file=sys.stderr)

    def kept(self, path: str, problem: object) -> None:
        """A line taken without one of its values: said by line, not skipped."""
        self.clear()
        print(f"{path}: {problem} (line kept)", file=sys.stderr)


def _unreadable(path: str, exc: Exception) -> CommandError:
    if isinstance(exc, FileNotFoundError):
        return CommandError(f"{path}: no such file")
    return CommandError(f"{path}: cannot be read ({getattr(exc, 'strerror', None) or exc})")


def _when(at: datetime | None) -> str:
    return f"{at.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC" if at is not None else ""


def cmd_contacts_show(args: argparse.Namespace) -> int:
    from app.store.contacts import contact_detail, find_contacts

    if args.limit < 1:           # said before anything is printed
        raise CommandError(f"--limit {args.limit}: give 1 or more")
    db = _open_engine(args.db, write=False)
    detail = contact_detail(db, args.id)
    if detail is None:
        close = [c.id for c in find_contacts(db, args.id, limit=5)]
        hint = f" (close: {', '.join(close)})" if close else "; `journeys contacts import FILE.csv` adds contacts"
        raise CommandError(f"no contact with id {args.id!r}{hint}")
    print(f"Contact {detail.id}" + (f" — {detail.name}" if detail.name else ""))
    shown = {k: v for k, v in detail.fields.items() if v not in (None, "")}
    for key, value in [*shown.items(), ("tags", ", ".join(detail.tags) or "(none)"), *sorted(detail.attributes.items())]:
        print(f"  {key:<16}{_when(value) if isinstance(value, datetime) else value}")
    print("Consent")
    for c in detail.consent:
        since = f"since {_when(c.changed_at)}  ({c.source})" if c.changed_at else "never asked"
        print(f"  {c.channel:<10}{c.state:<14}{since}")
    print("Consent history (newest first)" if detail.history else "Consent history: no changes recorded")
    for h in detail.history:
        print(f"  {_when(h.at)}  {h.channel:<10}{h.previous + ' → ' + h.state:<28}{h.source}")
    from app.cli_contacts import print_timeline     # issue 11: the contact's story across journeys

    print_timeline(db, detail.id, args.limit, args.oldest_first)
    return 0


def cmd_events_import(args: argparse.Namespace) -> int:
    from app.engine.engine import JourneyEngine
    from app.engine.file_import import events_text, import_events_file

    try:
        file, _, _ = events_text(args.file)           # unreadable: said before the database is opened
    except (OSError, UnicodeDecodeError) as exc:
        raise _unreadable(args.file, exc) from None
    engine = JourneyEngine(_open_engine(args.db))
    shown = _Progress("events")
    try:
        done, found = import_events_file(engine, file, progress=shown, history=args.history,
                                         on_problem=partial(shown.problem, args.file),
                                         on_warning=partial(shown.kept, args.file))
    except (OSError, UnicodeDecodeError) as exc:
        shown.clear()
        raise _unreadable(args.file, exc) from None
    shown.clear()
    print(f"Imported events from {args.file}: {done.summary()}; {found.bad} bad line(s) skipped"
          + (f"; {found.warned} line(s) kept without a value (listed)" if found.warned else "")
          + ("; history mode: contacts updated, no journey started" if args.history else ""))
    if done.unmatched:
        print(f"{done.unmatched} delivery feedback event(s) named no message of their contact on their channel "
              "and changed nothing (give properties.message_id from the activity log, or properties.channel)")
    if done.dead:
        from app.logfile import log_path

        print(f"{len(done.dead)} event(s) could not be applied and were set aside (dead-lettered), changing "
              f"nothing; the others were applied. Full details in {log_path()}; "
              "list them with `journeys events dead-letters`:", file=sys.stderr)
        for event, reason in done.dead[:10]:
            print(f"  {_when(event.at) if isinstance(event.at, datetime) else event.at}  {event.type} "
                  f"of {event.contact!r}: {reason}", file=sys.stderr)
        if len(done.dead) > 10:
            print(f"  … and {len(done.dead) - 10} more", file=sys.stderr)
    # The file's exit status (issue 12): 0 when events were taken (bad lines listed), 1 when none could be.
    return PROBLEMS if found.bad and not found.rows else 0


def cmd_events_dead_letters(args: argparse.Namespace) -> int:
    from app.engine.dead_letters import dead_letters

    if args.retry:
        from app.engine.engine import JourneyEngine

        done, tried = JourneyEngine(_open_engine(args.db)).retry_dead_letters()
        print(f"Retried {tried} dead-lettered event(s): {done.stored} applied, {len(done.dead)} set aside again")
        for event, reason in done.dead[:10]:
            print(f"  {event.type} of {event.contact!r}: {reason}", file=sys.stderr)
        return 0
    total, found = dead_letters(_open_engine(args.db), args.limit)
    if not total:
        print("No dead-lettered events: every imported event was applied.")
        return 0
    print(f"{total} event(s) could not be applied (newest first; each changed nothing):")
    for dead in found:
        at = _when(dead.occurred_at) or str(dead.payload.get("at", "?"))
        print(f"  {at}  {dead.type} of {dead.contact!r} (set aside {_when(dead.received_at)}): {dead.reason}")
    if total > len(found):
        print(f"  … and {total - len(found)} older (--limit N shows more)")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from app.engine.simulator import simulate
    from app.engine.stats import format_table
    from app.journey.fileformat import JourneyFileError, load

    try:
        journey = load(args.journey)
    except JourneyFileError as exc:
        raise CommandError(str(exc)) from None
    # No check of its own here: the engine's gate judges the journey as it runs (below), so the
    # problems printed are the very ones `journeys validate --active` and `journeys activate` print.
    rows, bad_rows = _contacts(args.contacts) if args.contacts else ([], [])
    found, bad_lines = _events(args.events) if args.events else ([], [])
    start, until = _parse_time(args.start, "--start"), _parse_time(args.until, "--until")
    if start and until and until <= start:
        raise CommandError("--until must be after --start")
    db_url = None
    if args.db:
        _open_engine(args.db).dispose()      # a clear error for a bad URL before anything runs
        db_url = args.db
    from app.engine.gate import JourneyNotReady
    from app.store.errors import StoreError

    from app.store.app_settings import check_timezone

    zone = None
    if args.timezone:
        try:
            zone = check_timezone(args.timezone)
        except StoreError as exc:
            raise CommandError(f"--timezone: {exc}") from None
    try:
        result = simulate(journey, rows, found, db_url=db_url, start=start, until=until,
                          keep_log=bool(args.log), timezone_name=zone, contacts_source=_name(args.contacts))
    except JourneyNotReady as exc:
        from app.cli import print_problems

        print_problems(args.journey, exc.journey, exc.problems, quiet=False)
        print(f"{args.journey}: not simulated: {len(exc.problems)} error(s) to fix first "
              f"(`journeys validate --active {args.journey}` lists them too)", file=sys.stderr)
        return PROBLEMS
    except StoreError as exc:
        raise CommandError(str(exc)) from None
    if args.log:
        try:
            with open(args.log, "w", encoding="utf-8") as out:
                for record in result.activity:
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
        except OSError as exc:
            raise CommandError(f"{args.log}: cannot be written ({exc.strerror or exc})") from None
    titles = {n.id: (n.kind, n.title) for n in _in_order(journey)}
    from app.journey.settings import journey_timezone

    own = journey_timezone(journey.settings, ((n.kind, n.config) for n in journey.nodes.values()))
    zone = (f"{own} (the journey's time zone)" if own else f"{result.business_timezone} (the business's time zone)"
            if result.business_timezone else "UTC (no business time zone is set; use --timezone ZONE)")
    print(f"{journey.name}: simulated {result.started:%Y-%m-%d %H:%M} → {result.ended:%Y-%m-%d %H:%M} UTC; "
          f"contacts without a time zone: {zone}")
    for line in format_table(result.stats, titles, _channels(journey)):
        print(line)
    if args.db:     # a re-run on the same database adds nothing twice: say what it added
        print(f"Database: contacts {result.contacts.summary()}; events {result.events.summary()}; "
              + (f"published version {result.version}" if result.published
                 else f"version {result.version} unchanged (nothing published)"))
    if args.log:
        print(f"Wrote {len(result.activity)} activity line(s) to {args.log}")
    for event, reason in result.dead[:10]:
        print(f"{args.events}: {event.type} of {event.contact!r} at {event.at} could not be applied "
              f"(set aside): {reason}", file=sys.stderr)
    if bad_rows or bad_lines:       # simulated without them: the input still has problems (exit 1)
        print(f"Simulated without {len(bad_rows)} bad contact row(s) and {len(bad_lines)} bad event line(s) "
              "(listed above)", file=sys.stderr)
        return PROBLEMS
    return 0


def _name(path: str | None) -> str:
    from pathlib import Path

    return Path(path).name if path else "contacts file"


def _channels(journey) -> dict[str, str]:
    """Each send step's channel: the statistics table shows the rates that channel reports."""
    return {n.id: n.config["channel"] for n in journey.nodes.values() if n.kind == "send_template"}


def _in_order(journey):
    """Nodes from the trigger along the edges (breadth first), then any unreachable ones."""
    order, queue = [], [n.id for n in journey.triggers()]
    while queue:
        node_id = queue.pop(0)
        if node_id in order:
            continue
        order.append(node_id)
        queue += [e.target for e in sorted(journey.edges_from(node_id), key=lambda e: e.outcome != "yes")]
    order += [n for n in journey.nodes if n not in order]
    return [journey.nodes[n] for n in order]


def _go_live(args: argparse.Namespace, *, verb: str) -> int:
    """`journeys activate` / `journeys publish`: the engine's gate judges the stored draft; its
    problems are printed as `journeys validate --active` prints a file's. Exit 1 on errors."""
    from app.cli import PROBLEMS, print_problems
    from app.engine.engine import JourneyEngine
    from app.engine.gate import JourneyNotReady
    from app.journey.validate import ERROR
    from app.store.journeys import JourneyStore

    db = _open_engine(args.db)
    row = JourneyStore(db).find(args.name)
    if row is None:
        raise CommandError(f"no journey named {args.name!r} in the store")
    engine = JourneyEngine(db)
    journey, problems = engine.check(row.id)
    print_problems(row.name, journey, problems, quiet=args.quiet)
    errors = sum(p.severity == ERROR for p in problems)
    if not errors:
        try:
            version = engine.activate(row.id) if verb == "activate" else engine.publish(row.id)
        except JourneyNotReady as exc:        # the draft changed since the check above
            print_problems(row.name, exc.journey, exc.problems, quiet=args.quiet)
            errors = len(exc.problems)
    if errors:
        print(f"{row.name}: not {verb}d: {errors} error(s) to fix first; nothing was published", file=sys.stderr)
        return PROBLEMS
    if verb == "activate":
        print(f"{row.name}: active; new contacts enter version {version}")
    elif version == row.published_version:
        print(f"{row.name}: nothing changed since version {version}; nothing to publish")
    else:
        print(f"{row.name}: published version {version}; new contacts enter it"
              + ("" if row.status == "active" else f" once the journey is active (it is {row.status})"))
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from app.engine.stats import format_table, journey_stats
    from app.journey.fileformat import JourneyFileError, from_document
    from app.store.journeys import JourneyStore

    db = _open_engine(args.db, write=False)
    store = JourneyStore(db)
    row = store.find(args.name)
    if row is None:
        raise CommandError(f"no journey named {args.name!r} in the store")
    try:
        journey = from_document(store.load_draft(row.id), f"journey {row.name!r}")
    except JourneyFileError as exc:
        raise CommandError(str(exc)) from None
    stats = journey_stats(db, row.id, _parse_time(args.since, "--since"), _parse_time(args.until, "--until"))
    titles = {n.id: (n.kind, n.title) for n in _in_order(journey)}
    for line in format_table(stats, titles, _channels(journey)):
        print(line)
    return 0


def add_commands(sub: argparse._SubParsersAction, db_parent: argparse.ArgumentParser) -> None:
    def command(parent: argparse._SubParsersAction, name: str, handler: Callable[[argparse.Namespace], int],
                help_text: str) -> argparse.ArgumentParser:
        p = parent.add_parser(name, parents=[db_parent], help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    contacts = sub.add_parser("contacts", help="Import or show contacts.").add_subparsers(
        dest="contacts_command", required=True, metavar="ACTION")
    from app.cli_contacts_import import add_import_arguments, cmd_contacts_import     # issue 12: presets and mappings

    add_import_arguments(command(contacts, "import", cmd_contacts_import,
                                 "Import contacts from a CSV file or a Mailchimp export zip: Shopify, Mailchimp, "
                                 "Klaviyo and WooCommerce exports are recognised; other layouts need --map. Bad rows "
                                 "are reported and skipped."))
    p = command(contacts, "show", cmd_contacts_show,
                "Show a contact: fields, tags, consent per channel and history, and its timeline across journeys.")
    p.add_argument("id", metavar="ID", help="the contact's id")
    p.add_argument("--limit", type=int, default=50, metavar="N", help="timeline entries to show (default 50)")
    p.add_argument("--oldest-first", action="store_true", help="the timeline from its start")
    from app.cli_contacts import add_here_command     # `journeys contacts here JOURNEY STEP`

    add_here_command(contacts, db_parent)
    events = sub.add_parser("events", help="Import events.").add_subparsers(
        dest="events_command", required=True, metavar="ACTION")
    p = command(events, "import", cmd_events_import,
                ("Import events from a JSON-lines file and let active journeys react; bad lines, and events "
                 "already imported (same id, same order, or same content), are skipped."))
    p.add_argument("file", metavar="FILE.jsonl")
    p.add_argument("--history", action="store_true",
                   help="past data: store the events and update their contacts (spend, orders, consent) "
                        "but start no journey and fire no exit, goal or conversion")
    p = command(events, "dead-letters", cmd_events_dead_letters,
                "List the events that could not be applied (dead-lettered), newest first, with the reason.")
    p.add_argument("--limit", type=int, default=50, metavar="N", help="show at most N (default 50)")
    p.add_argument("--retry", action="store_true",
                   help="apply them again (once the cause is fixed); those that still fail stay set aside")
    p = command(sub, "simulate", cmd_simulate,
                "Run a journey on a virtual clock with the real engine and print per-step statistics.")
    p.add_argument("journey", metavar="JOURNEY.json")
    p.add_argument("--contacts", metavar="FILE.csv")
    p.add_argument("--events", metavar="FILE.jsonl")
    p.add_argument("--start", metavar="ISO", help="start time (default: the first event)")
    p.add_argument("--until", metavar="ISO", help="end time (default: when nothing is left to do, at most a year)")
    p.add_argument("--log", metavar="OUT.jsonl", help="write the activity log as JSON lines")
    p.add_argument("--timezone", metavar="ZONE",
                   help="the business's time zone for this run, e.g. Europe/Berlin (default: the database's own; "
                        "a temporary database has none, so UTC)")


    for verb, text in (("activate", "Check a journey in the store and start it (publishing its draft when changed); "
                                    "prints its problems and exits 1 when it has errors."),
                       ("publish", "Check a journey's draft and publish it as a new version; prints its problems "
                                   "and exits 1 when it has errors.")):
        p = command(sub, verb, partial(_go_live, verb=verb), text)
        p.add_argument("name", metavar="NAME", help="the journey's name or id")
        p.add_argument("-q", "--quiet", action="store_true", help="no hints")
    from app.cli_outbox import add_outbox_commands     # journeys outbox status|send

    outbox = add_outbox_commands(sub, db_parent)
    p = command(sub, "stats", cmd_stats, "Per-step statistics of a journey in the store.")
    p.add_argument("name", metavar="NAME", help="the journey's name or id")
    p.add_argument("--since", metavar="ISO")
    p.add_argument("--until", metavar="ISO")
    from app.cli_channels import add_channel_commands     # channels, send-test, outbox (issue 10)

    add_channel_commands(sub, db_parent, outbox)
    from app.cli_mailbox import add_mailbox_commands     # `journeys mailbox poll|test`

    add_mailbox_commands(sub, db_parent)
    from app.cli_testrun import add_test_run_command     # `journeys test-run` (issue 11)

    add_test_run_command(sub, db_parent)
    from app.cli_orders import add_orders_commands       # `journeys orders import` (issue 12)

    add_orders_commands(sub, db_parent)
    from app.cli_service import add_service_commands     # `journeys serve`, `journeys service …` (issue 13)

    add_service_commands(sub, db_parent)
    from app.cli_receiver import add_receiver_commands   # `journeys receiver …` (issue 13 §2)

    add_receiver_commands(sub, db_parent)
    from app.cli_connect import add_connect_commands      # `journeys connect`, `journeys connections` (issue 13)

    add_connect_commands(sub, db_parent)
