"""`journeys orders import FILE [--history | --live]`: a shop's order export, each order once.

Reads a Shopify or WooCommerce order export (app/engine/order_files.py), adds each order to its
customer (a contact, created when new) and stores it as an `order_placed` event keyed by its
order id (app/engine/order_import.py). Exit codes (app/exits.py, issue 12): 0 orders were taken
(bad rows and orders skipped on purpose listed by line); 1 the header is no order export's, or no
order could be used (nothing imported); 2 the file cannot be read.
"""
from __future__ import annotations

import argparse
import sys
from functools import partial

from app.cli import PROBLEMS, _open_engine


def cmd_orders_import(args: argparse.Namespace) -> int:
    from app.engine.engine import JourneyEngine
    from app.engine.file_import import contacts_text
    from app.engine.import_rows import Problem
    from app.engine.order_files import order_records
    from app.engine.order_import import import_orders_file
    from app.engine.textstream import NotText
    from app.engine_cli import _Progress, _unreadable

    try:
        _, _, lines = contacts_text(args.file)          # unreadable or not an export: said before the database opens
        first = next(order_records(lines), None)
    except (OSError, UnicodeDecodeError, NotText) as exc:     # a workbook, an archive: unreadable (2)
        raise _unreadable(args.file, exc) from None
    if isinstance(first, Problem) and first.line == 1:      # read, but no order export: a problem (1), as for contacts
        print(f"journeys orders: {args.file}: {first}; nothing was imported", file=sys.stderr)
        return PROBLEMS
    history = True if args.history else False if args.live else None
    engine = JourneyEngine(_open_engine(args.db))
    shown = _Progress("orders")
    try:
        report, found = import_orders_file(engine, args.file, history=history, progress=shown,
                                           on_problem=partial(shown.problem, args.file))
    except (OSError, UnicodeDecodeError, NotText) as exc:     # a workbook, an archive: unreadable (2)
        shown.clear()
        raise _unreadable(args.file, exc) from None
    shown.clear()
    for note in report.notes:
        print(f"{args.file}: {note}", file=sys.stderr)
    for skipped in report.skipped[:20]:
        print(f"{args.file}: {skipped}")
    if report.skipped_count > 20:
        print(f"{args.file}: … and {report.skipped_count - 20} more order(s) skipped")
    print(f"Imported orders from {args.file}: {report.summary()}"
          + (f"; {found.bad} bad row(s) skipped" if found.bad else ""))
    if report.done.dead:
        print(f"{len(report.done.dead)} order(s) could not be applied and were set aside (see "
              "`journeys events dead-letters`)", file=sys.stderr)
    # The file's exit status (issue 12): 0 when orders were taken (bad rows listed), 1 when none could be.
    return PROBLEMS if found.bad and not found.rows else 0


def add_orders_commands(sub: argparse._SubParsersAction, db_parent: argparse.ArgumentParser) -> None:
    orders = sub.add_parser("orders", help="Import a shop's order history.").add_subparsers(
        dest="orders_command", required=True, metavar="ACTION")
    text = ("Import a Shopify or WooCommerce order export: each order adds to its customer's spend, order count "
            "and last order date and is stored as an order_placed event (once, by its order id). Orders placed "
            "more than a day ago start no journey (history), unless --live.")
    p = orders.add_parser("import", parents=[db_parent], help=text, description=text)
    p.set_defaults(handler=cmd_orders_import)
    p.add_argument("file", metavar="FILE.csv")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--history", action="store_true",
                      help="past data, every order: update customers, start nothing (no journey enters, exits, "
                           "converts or reaches its goal)")
    mode.add_argument("--live", action="store_true",
                      help="let active journeys react to every order, old ones too (as if they happened now)")
