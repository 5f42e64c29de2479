"""`journeys contacts import`: shop exports recognised from their header row, other layouts through
a mapping (`--map`), `--dry-run`, and exit codes that tell the truth (issue 12; README, "Importing
contacts"). Kept apart from app/engine_cli.py, which registers it."""
from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Sequence

from app.cli import PROBLEMS, CommandError, _open_engine
from app.engine_cli import _Progress, _unreadable


def add_import_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `journeys contacts import`."""
    from app.engine.contact_presets import BY_NAME

    p.add_argument("file", metavar="FILE")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--preset", choices=sorted(BY_NAME), help="read the file as this export (default: recognised "
                     "from its header row)")
    how.add_argument("--map", metavar="MAP.json", help="what each column is (README: Importing contacts); "
                     "remembered for files with the same columns")
    p.add_argument("--dry-run", action="store_true", help="check and count everything, write nothing")
    p.add_argument("--country", metavar="CC", help="the country of phone numbers written without a country code "
                   "(default: the row's country, else the business time zone's)")


def _mapping_choice(args: argparse.Namespace, db):
    """How the file's columns are read: --preset, --map, else the export recognised from the header,
    else the mapping saved for this header's layout; raises MappingError (exit 1) when none fits."""
    from app.engine.contact_mapping import MappingError, read_mapping, saved_mapping
    from app.engine.contact_presets import BY_NAME, detect
    from app.engine.importers import unknown_layout

    if args.map:
        try:
            given = read_mapping(args.map)
        except FileNotFoundError:
            raise CommandError(f"{args.map}: no such file") from None
        except UnicodeDecodeError:      # else reported as the contacts file's fault, naming that file
            raise CommandError(f"{args.map}: is not UTF-8 text; save the map as UTF-8") from None
        except OSError as exc:
            raise CommandError(f"{args.map}: cannot be read ({exc.strerror or exc})") from None
        except MappingError as exc:
            raise CommandError(str(exc)) from None

    def choose(header: list[str], path: str):
        if args.preset:
            return BY_NAME[args.preset].mapping(header, path)
        if args.map:
            return given
        # The mapping the user gave for this very layout comes before any recognised export: a file
        # with an `email` column also fits this app's own format, which would read its consent and
        # date columns as plain attributes.
        saved = saved_mapping(db, header)
        if saved is not None:
            return saved
        preset = detect(header)
        if preset is not None:
            return preset.mapping(header, path)
        raise MappingError(unknown_layout(header))
    return choose


def _region(args: argparse.Namespace, db) -> str | None:
    """The country national phone numbers are read in: --country, else the business time zone's."""
    from app.engine.contact_values import country_code, country_of_zone
    from app.store.app_settings import business_timezone

    if args.country:
        code = country_code(args.country)
        if code is None:
            raise CommandError(f"--country {args.country!r} is not a country; write its ISO code such as DE or US")
        return code
    return country_of_zone(business_timezone(db))


def cmd_contacts_import(args: argparse.Namespace) -> int:
    """Exit 0 when rows were imported (bad ones reported), 1 when the header is unusable or no row
    could be imported, 2 when the file cannot be read at all (README, "Importing contacts")."""
    from app.engine.contact_mapping import save_mapping
    from app.engine.file_import import contact_files, import_contacts_file
    from app.engine.import_rows import ReadStats
    from app.engine.importers import Problem, contact_records
    from app.engine.textstream import NotText

    db = None
    total_rows = total_bad = 0
    header_refused = False
    try:
        with contact_files(args.file) as files:
            for name, file in files:
                shown_name = args.file if len(files) == 1 else name
                if db is None:
                    db = _open_engine(args.db)
                    region = _region(args, db)
                    choose = _mapping_choice(args, db)
                chosen: list = []

                def keep(header: list[str], _chosen: list = chosen, _name: str = file.path.name):
                    m = choose(header, _name)
                    _chosen[:] = [header, m]
                    return m

                from app.engine.file_import import contacts_text
                _, _, lines = contacts_text(file)
                first = next(contact_records(lines, keep, file_name=file.path.name, region=region), None)
                if isinstance(first, Problem) and first.line == 1:
                    print(f"{shown_name}: {first}; nothing was imported from it", file=sys.stderr)
                    header_refused = True
                    continue
                header, mapping = chosen
                stats = ReadStats()
                shown = _Progress("rows")
                report, found = import_contacts_file(
                    db, file, datetime.now(timezone.utc), Path(name).name.replace(":", " "), progress=shown,
                    on_problem=partial(shown.problem, shown_name), mapping=mapping, region=region,
                    dry_run=args.dry_run, stats=stats, file_name=file.path.name,
                    on_warning=partial(_warn, shown, shown_name))
                shown.clear()
                if args.map and not args.dry_run:
                    save_mapping(db, header, mapping)
                _summarise(shown_name, mapping, report, found, stats, args.dry_run, header)
                total_rows += report.count
                total_bad += found.bad
    except (OSError, UnicodeDecodeError, NotText) as exc:
        raise _unreadable(args.file, exc) from None
    if total_rows == 0:
        if not (total_bad or header_refused):     # a header and nothing below it: the wrong export, often
            print(f"{args.file}: no rows below the header; nothing was imported", file=sys.stderr)
        return PROBLEMS
    return 0


def _warn(progress: "_Progress", path: str, problem: object) -> None:
    progress.clear()
    print(f"{path}: {problem} (row kept)", file=sys.stderr)


def _summarise(path: str, mapping, report, found, stats, dry_run: bool, header: Sequence[str] = ()) -> None:
    from app.engine.contact_presets import BY_NAME

    source = BY_NAME[mapping.preset].title if mapping.preset in BY_NAME else "the column mapping"
    if mapping.saved:
        source = "the mapping saved for these columns"
    for notice in report.notices:
        print(f"{path}: {notice}")
    verb = "Dry run (nothing written): would import" if dry_run else "Imported"
    kept = sum(" opted out of " in n.reason for n in report.notices)
    print(f"{verb} contacts from {path} ({source}): {report.summary()}"
          + (f"; {found.bad} bad row(s) skipped" if found.bad else "")
          + (f"; {found.warned} row(s) kept with a value left out" if found.warned else "")
          + (f"; {kept} opt-out(s) kept" if kept else ""))
    consent = report.consent_summary()
    if consent:
        print(f"  consent {'to record' if dry_run else 'recorded'}: {consent}")
    if mapping.preset == "mailchimp" and not mapping.file_consent:
        print("  email consent left as it was: the file's name does not say whether its members are subscribed, "
              "unsubscribed or cleaned (keep Mailchimp's file names)")
    zones = stats.zones()
    if zones:
        print(f"  {zones}")
    # Columns the layout does not know become custom attributes: said, so that a `Newsletter` column read
    # as plain text (not as consent) is seen before the first journey runs.
    extra = [h for h in header if h and h not in mapping.columns]
    if extra and not mapping.saved and mapping.preset is not None:
        shown = ", ".join(extra[:8]) + (f" and {len(extra) - 8} more" if len(extra) > 8 else "")
        print(f"  kept as custom attributes: {shown} (to read one as consent, a date or a field, import with "
              "--map MAP.json)")


