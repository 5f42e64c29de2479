"""`journeys`: the headless commands.

Exit codes (app/exits.py decides them for every command): 0 success; 1 the journey or the
imported file has problems (bad lines are reported and skipped); 2 an input could not be read
or used — a file that is missing, not UTF-8, not JSON, not a journey; a usage error; a database
that is busy, read-only or full; 3 an internal error (a bug: one line on stderr, the traceback in
the log file). Never a traceback on stderr.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, NoReturn, Sequence

from app.exits import CommandError, report_internal_error, run_command, single_line, tolerant_output
from app.journey.fileformat import JourneyFileError, from_document, load, save, to_document
from app.journey.jsonvalues import one_line
from app.journey.model import Journey
from app.journey.validate import ERROR, Problem, VariableCatalog, validate

OK, PROBLEMS, UNUSABLE = 0, 1, 2       # app/exits.py: OK, PROBLEMS, UNREADABLE, INTERNAL


def _out(text: str = "") -> None:
    print(text, flush=False)


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def _open_engine(url: str | None, *, write: bool = True):
    """The database engine; `write=False` for commands that only read: they never take the write
    lock (a current schema is not touched), so they run while another process writes."""
    # Imported here so that `journeys validate` on files needs no database at all.
    from app.store.db import open_database
    from app.store.errors import StoreError

    try:
        return open_database(url, write=write)
    except StoreError as exc:
        raise CommandError(str(exc)) from None


def _open_store(url: str | None, *, write: bool = True):
    from app.store.journeys import JourneyStore

    return JourneyStore(_open_engine(url, write=write))


def _catalog(url: str | None) -> VariableCatalog | None:
    """The variables seen in the store, when a database was named; else nothing to check against."""
    if not url and not os.environ.get("JOURNEYS_DB"):
        return None
    from app.store.catalog import known_variables

    names = known_variables(_open_engine(url, write=False))
    return VariableCatalog(names.contact_attributes, names.event_properties)


def format_problem(source: str, journey: Journey | None, problem: Problem) -> str:
    """`SOURCE: node ID (TITLE): [warning: ]message`, or `SOURCE: journey: …` for the journey as a whole."""
    if journey is not None and problem.node_id and problem.node_id in journey.nodes:
        where = f"node {problem.node_id} ({journey.nodes[problem.node_id].title})"
    else:
        where = "journey"
    severity = "" if problem.severity == ERROR else "warning: "
    return one_line(f"{source}: {where}: {severity}{problem.message}")     # a step's name may hold "\n"


def _business_zone(url: str | None) -> str | None:
    """The database's business time zone ("" when not set), when a database was named; else None."""
    if not url and not os.environ.get("JOURNEYS_DB"):
        return None
    from app.store.app_settings import business_timezone

    return business_timezone(_open_engine(url, write=False)) or ""


def _public_url(url: str | None) -> str | None:
    """The database's public URL ("" when not set), when a database was named; else None."""
    if not url and not os.environ.get("JOURNEYS_DB"):
        return None
    from app.engine.gate import public_url

    return public_url(_open_engine(url, write=False))


def print_problems(source: str, journey: Journey | None, problems: list[Problem], *, quiet: bool = False) -> None:
    """Each problem on its line (see format_problem), with its hint below unless `quiet`; a line break
    in a step's name or a quoted value is printed escaped (`\\n`), so that one problem stays one line."""
    for problem in problems:
        _out(single_line(format_problem(source, journey, problem), limit=2000))
        if problem.hint and not quiet:
            _out(single_line(f"    hint: {problem.hint}", limit=2000))


def cmd_validate(args: argparse.Namespace) -> int:
    catalog = _catalog(args.db)
    business_zone, url = _business_zone(args.db), _public_url(args.db)
    worst = OK
    for path in args.files:
        try:
            journey = load(path)
        except JourneyFileError as exc:
            _err(single_line(str(exc), limit=2000))     # an id or name in the message may hold a line break
            worst = UNUSABLE
            continue
        problems = validate(journey, catalog=catalog, active=args.active, business_zone=business_zone,
                            public_url=url)
        print_problems(path, journey, problems, quiet=args.quiet)
        failing = [p for p in problems if p.severity == ERROR or args.strict]
        if failing and worst == OK:
            worst = PROBLEMS
        if not problems and not args.quiet:
            _out(f"{path}: valid")
    return worst


def cmd_import(args: argparse.Namespace) -> int:
    try:
        journey = load(args.file)
    except JourneyFileError as exc:
        raise CommandError(str(exc)) from None
    store = _open_store(args.db)
    existing = store.get(journey.id) or store.find(journey.name)
    if existing and not args.replace:
        raise CommandError(f"{args.file}: a journey named {existing.name!r} is already in the store; "
                           "use --replace to overwrite its draft, or rename the journey in the file")
    document = to_document(journey)
    from app.store.errors import StoreError

    try:          # the store refuses what it cannot keep (a name over 200 characters…) in one line
        if existing:
            document["id"] = existing.id
            store.save_draft(existing.id, document)
            _out(f"Replaced the draft of {journey.name!r} ({existing.id})")
        else:
            row = store.create(document)
            _out(f"Imported {row.name!r} ({row.id})")
    except StoreError as exc:
        raise CommandError(f"{args.file}: {exc}") from None
    # Judged as activation will judge it (the engine's gate), so the count is what blocks `activate`.
    errors = [p for p in validate(journey, catalog=_catalog(args.db), active=True) if p.severity == ERROR]
    if errors:
        _out(f"Note: it has {len(errors)} error(s) to fix before it can be activated; run "
             f"`journeys validate --active {args.file}` to see them")
    return OK


def cmd_export(args: argparse.Namespace) -> int:
    store = _open_store(args.db, write=False)
    row = store.find(args.name)
    if row is None:
        names = ", ".join(repr(r.name) for r in store.list()) or "none yet"
        raise CommandError(f"no journey named {args.name!r} in the store (journeys: {names})")
    try:
        journey = from_document(store.load_draft(row.id), f"journey {row.name!r} in the store")
    except JourneyFileError as exc:
        raise CommandError(str(exc)) from None
    try:
        save(journey, args.file)
    except OSError as exc:
        raise CommandError(f"{args.file}: cannot be written ({exc.strerror or exc})") from None
    _out(f"Exported {row.name!r} to {args.file}")
    return OK


def cmd_list(args: argparse.Namespace) -> int:
    rows = _open_store(args.db, write=False).list()
    if not rows:
        _out("No journeys yet. Import one with `journeys import FILE`.")
        return OK
    width = max(len(r.name) for r in rows)
    for r in rows:
        version = f"v{r.published_version}" if r.published_version else "—"
        _out(f"{r.name:<{width}}  {r.status:<8} {version:<4} edited {r.updated_at:%Y-%m-%d %H:%M}  {r.id}")
    return OK


def cmd_settings(args: argparse.Namespace) -> int:
    """`journeys settings` prints the app settings; `journeys settings timezone [ZONE]` shows or sets
    the business's time zone (checked against the IANA database; exit 2 with a hint when unknown)."""
    from app.store.app_settings import business_timezone, check_timezone, set_business_timezone
    from app.store.errors import StoreError

    if args.name is None:
        zone = business_timezone(_open_engine(args.db, write=False))
        _out(f"timezone  {zone or '(not set: contacts without a time zone are judged in UTC)'}")
        return OK
    if args.value is None:
        _out(business_timezone(_open_engine(args.db, write=False)) or "(not set)")
        return OK
    try:
        name = check_timezone(args.value)       # before opening the database: a typo needs none
    except StoreError as exc:
        raise CommandError(str(exc)) from None
    set_business_timezone(_open_engine(args.db), name)
    _out(f"The business's time zone is now {name}")
    return OK


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error said in one line (exit 2: the command line cannot be read)."""

    def error(self, message: str) -> NoReturn:
        self.exit(UNUSABLE, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="journeys", description="Journey Studio, without the window.")
    db = _Parser(add_help=False)
    db.add_argument("--db", metavar="URL", help="database URL or SQLite file (default: $JOURNEYS_DB, "
                                                 "else the app's own database)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[db], help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    p = command("validate", cmd_validate, "Check journey files; exit 0 when valid, 1 with problems, 2 if unreadable.")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--strict", action="store_true", help="warnings fail too")
    p.add_argument("--active", action="store_true", help="judge as a journey about to run (past dates are errors)")
    p.add_argument("-q", "--quiet", action="store_true", help="no hints, nothing for valid files")
    p = command("import", cmd_import, "Add a journey file to the store as a draft.")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--replace", action="store_true", help="overwrite the draft of a journey with the same id or name")
    p = command("export", cmd_export, "Write a journey's draft from the store to a file.")
    p.add_argument("name", metavar="NAME", help="the journey's name or id")
    p.add_argument("file", metavar="FILE")
    command("list", cmd_list, "List the journeys in the store.")
    p = command("settings", cmd_settings, "Show the app settings, or set one: `settings timezone Europe/Berlin`.")
    p.add_argument("name", nargs="?", choices=("timezone",), metavar="NAME",
                   help="timezone: the business's IANA time zone, used for contacts without one")
    p.add_argument("value", nargs="?", metavar="VALUE", help="the new value (omit to print the current one)")
    from app.engine_cli import add_commands  # the engine's commands: contacts, events, simulate, stats

    add_commands(sub, db)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one `journeys` command; returns its exit code (app/exits.py: 0 ok, 1 the input has problems,
    2 an input cannot be read or used, 3 a bug, with the traceback in the log file)."""
    tolerant_output()
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:       # --help (0), or a usage error already said in one line (2)
        return exc.code if isinstance(exc.code, int) else OK if exc.code is None else UNUSABLE
    except Exception as exc:        # noqa: BLE001 — a bug in setting up the parser, not bad input
        return report_internal_error("", exc)
    return run_command(args.command, lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    from app.logfile import setup_logging

    setup_logging()      # full tracebacks (a failed step, a dead-lettered event, a bug) go to the log file
    return int(args.handler(args))


if __name__ == "__main__":
    # `python -m app.cli`: run the importable module's main, so that the engine's commands
    # (app/engine_cli.py imports app.cli) raise the very CommandError that main catches.
    from app.cli import main as _main

    raise SystemExit(_main())
