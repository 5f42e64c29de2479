"""`journeys outbox status` and `journeys outbox send [--once]`: the outbox from the command line.

`status` prints the messages per channel and status, and a few examples of those whose fate is
`unknown` or that `failed`. `send` runs the dispatcher (app/delivery/dispatcher.py) with the channels
set up in the database: one round with `--once`, else rounds every `--interval` seconds until SIGTERM
or Ctrl-C, each finishing the message in hand. Exit codes (app/exits.py): 0 every message handled went
out (or waits for a retry); 1 some failed, became unknown, or wait for a channel that is not set up;
1 also when a channel's workers failed (the notice says why;
the traceback is in the log); 2 the database cannot be used, or `--channels` names nothing usable; 3 a bug.
"""
from __future__ import annotations

import argparse
import signal
import sys
from datetime import datetime, timedelta, timezone
from importlib import import_module
from types import FrameType
from typing import Any, Callable

from app.cli import PROBLEMS, CommandError, _open_engine

MAX_SECONDS = 86_400        # --interval and --lease: a day is far past any sensible value
STATUS_ORDER = ("queued", "sending", "sent", "delivered", "opened", "clicked", "replied", "unknown", "failed",
                "cancelled")


def _when(at: datetime | None) -> str:
    return f"{at.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC" if at is not None else "-"


def cmd_outbox_status(args: argparse.Namespace) -> int:
    from sqlalchemy import func, select

    from app.store.tables import messages

    db = _open_engine(args.db, write=False)
    with db.connect() as conn:
        counts = conn.execute(select(messages.c.channel, messages.c.status, func.count())
                              .group_by(messages.c.channel, messages.c.status)).all()
        examples = {status: conn.execute(
            select(messages.c.id, messages.c.channel, messages.c.recipient, messages.c.error_code, messages.c.error,
                   messages.c.failed_at, messages.c.scheduled_at)
            .where(messages.c.status == status).order_by(messages.c.id.desc()).limit(args.examples)).all()
            for status in ("unknown", "failed")}
        retrying = conn.execute(select(func.count()).where(messages.c.status == "queued",
                                                           messages.c.attempts > 0)).scalar_one()
    if not counts:
        print("The outbox is empty: no message was ever queued.")
        return 0
    table: dict[str, dict[str, int]] = {}
    for channel, status, n in counts:
        table.setdefault(channel, {})[status] = int(n)
    statuses = [s for s in STATUS_ORDER if any(s in row for row in table.values())]
    statuses += sorted({s for row in table.values() for s in row} - set(statuses))
    head = ["channel", *statuses]
    rows = [[channel, *(f"{table[channel].get(s, 0):,}" for s in statuses)] for channel in sorted(table)]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for row in [head, *rows]:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
    if retrying:
        print(f"{retrying:,} queued message(s) wait for a retry after a passing failure.")
    for status, found in examples.items():
        if not found:
            continue
        what = ("fate unknown (may or may not have gone out; never resent automatically — resend from the app "
                "if it did not arrive)" if status == "unknown" else "failed")
        print(f"Latest {status} ({what}):")
        for row in found:
            code = f"[{row.error_code}] " if row.error_code else ""
            print(f"  #{row.id}  {row.channel:<8} {row.recipient}  {code}{(row.error or '')[:160]}")
    return 0


def _count(text: str) -> int:
    """A count given on the command line: a whole number from 0 up."""
    if not (text.strip().isascii() and text.strip().isdigit()) or int(text) > 10**6:
        raise argparse.ArgumentTypeError(f"{text!r} is not a count (a whole number from 0 to 1,000,000)")
    return int(text)


def _factory(path: str | None, db: Any) -> Callable[[str], Any] | None:
    """The channel factory `--channels MODULE:FUNCTION` names (FUNCTION(db) returns open_channel(name))."""
    if not path:
        return None
    module, _, name = path.partition(":")
    try:
        make = getattr(import_module(module), name or "factory")
    except (ImportError, AttributeError) as exc:
        raise CommandError(f"--channels {path!r}: cannot be loaded ({exc}); give MODULE:FUNCTION") from None
    opened: Callable[[str], Any] = make(db)
    return opened


def cmd_outbox_send(args: argparse.Namespace) -> int:
    from app.delivery.channels import live_dispatcher
    from app.delivery.dispatcher import Round

    # `not (0 < x <= limit)` also refuses nan and inf, which would overflow a timedelta or never wait.
    if not 0 < args.interval <= MAX_SECONDS or not 0 < args.lease <= MAX_SECONDS:
        raise CommandError(f"--interval and --lease must be positive numbers of seconds, at most {MAX_SECONDS:,} "
                           "(a day)")
    db = _open_engine(args.db)
    dispatcher = live_dispatcher(db, open_with=_factory(args.channels, db))
    dispatcher.config.lease = timedelta(seconds=args.lease)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        dispatcher.stop()          # the message in hand is finished; the rest stays queued

    previous = signal.signal(signal.SIGTERM, stop)
    total = Round()
    said: set[str] = set()

    def report(done: Round) -> None:
        for name in ("sent", "retried", "failed", "unknown", "cancelled", "recovered_unknown", "requeued"):
            total.add(name, getattr(done, name))
        total.not_configured.update(done.not_configured)
        total.troubles.update(done.troubles)
        if done.sent or done.retried or done.failed or done.unknown or done.cancelled or done.recovered_unknown:
            print(_summary(done), flush=True)
        for notice in done.notices():
            if notice not in said:
                said.add(notice)
                print(notice, file=sys.stderr, flush=True)

    try:
        if args.once:
            report(dispatcher.dispatch())
        else:
            print("Sending due messages; SIGTERM or Ctrl-C stops after the message in hand.", flush=True)
            dispatcher.run(args.interval, on_round=report)
    except KeyboardInterrupt:
        dispatcher.stop()
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
    if args.once and not (total.sent or total.retried or total.failed or total.unknown or total.cancelled):
        print("Nothing was due." if not (total.not_configured or total.troubles) else "Nothing was sent.")
    return PROBLEMS if (total.failed or total.unknown or total.recovered_unknown or total.not_configured
                        or total.troubles) else 0


def _summary(done: Any) -> str:
    parts = [f"{done.sent} sent"]
    for name, label in (("retried", "to retry later"), ("failed", "failed"), ("unknown", "fate unknown"),
                        ("cancelled", "cancelled (opted out or journey stopped)"),
                        ("recovered_unknown", "left unknown by an interrupted dispatcher")):
        if getattr(done, name):
            parts.append(f"{getattr(done, name)} {label}")
    return ", ".join(parts)


def add_outbox_commands(sub: argparse._SubParsersAction,
                        db_parent: argparse.ArgumentParser) -> argparse._SubParsersAction:
    """Adds `journeys outbox status|send`; returns the `outbox` group for its other actions."""
    outbox = sub.add_parser("outbox", help="Show the outbox or send its due messages.").add_subparsers(
        dest="outbox_command", required=True, metavar="ACTION")
    p = outbox.add_parser("status", parents=[db_parent], help="Messages per channel and status, with examples of "
                          "unknown and failed ones.", description="Messages per channel and status, with examples "
                          "of those whose fate is unknown and of failed ones.")
    p.add_argument("--examples", type=_count, default=5, metavar="N", help="examples of each (default 5)")
    p.set_defaults(handler=cmd_outbox_status)
    p = outbox.add_parser("send", parents=[db_parent], help="Send the due messages through the channels set up.",
                          description="Send the due messages through the channels set up (Settings → Channels), "
                                      "until SIGTERM or Ctrl-C; each finishes the message in hand.")
    p.add_argument("--once", action="store_true", help="one round: send what is due now, then exit")
    p.add_argument("--interval", type=float, default=5.0, metavar="SECONDS",
                   help="seconds between rounds (default 5)")
    p.add_argument("--lease", type=float, default=300.0, metavar="SECONDS",
                   help="how long a claim holds its messages before another dispatcher may recover them "
                        "(default 300)")
    p.add_argument("--channels", metavar="MODULE:FUNCTION", default=None,
                   help="use other channels: FUNCTION(db) returns open_channel(name) (tests, benchmarks)")
    p.set_defaults(handler=cmd_outbox_send)
    return outbox
