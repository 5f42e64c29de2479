"""`journeys serve` and `journeys service install|uninstall|status`: running in the background.

`serve` runs the engine's jobs and the HTTP receiver in one process until SIGTERM or Ctrl-C
(app/service/serve.py); `service …` installs it as a per-user service that starts at login and
restarts on failure (app/service/install.py). Exit codes (app/exits.py): 0 stopped cleanly /
done; 2 the database, the log file or the listen address cannot be used, or the service manager
refused (its own words are printed); 3 a bug.
"""
from __future__ import annotations

import argparse
import logging
import signal
import threading
from types import FrameType
from typing import Any, Callable

from app.cli import CommandError, _open_engine

log = logging.getLogger("app.service")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.01 <= value <= 86_400:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds from 0.01 to 86400")
    return value


def cmd_serve(args: argparse.Namespace) -> int:
    from app.service.http import DEFAULT_LISTEN, ListenError
    from app.service.jsonlog import service_log_path, setup_service_logging
    from app.service.serve import ServeOptions, Service

    db = _open_engine(args.db)
    path = service_log_path(args.log_file)
    try:
        setup_service_logging(path)
    except OSError as exc:
        raise CommandError(f"{path}: the service's log cannot be written ({exc.strerror or exc}); "
                           "choose another with --log-file PATH") from None
    from app.service.parts import listen_setting

    listen = args.listen or listen_setting(db) or DEFAULT_LISTEN    # --listen, else Settings → Receiver's address
    options = ServeOptions(listen=listen, tick_seconds=args.tick_seconds, scan_seconds=args.scan_seconds,
                           outbox_seconds=args.outbox_seconds, heartbeat_seconds=args.heartbeat_seconds,
                           lease_seconds=args.lease_seconds)
    if options.heartbeat_seconds * 2 > options.lease_seconds:
        raise CommandError("the lease must last at least two heartbeats (--lease-seconds ≥ 2 × --heartbeat-seconds)")
    say: Callable[[str], None] = lambda text: print(text, flush=True)
    stop = threading.Event()
    received: list[str] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)
        stop.set()

    handled = [signal.SIGTERM, signal.SIGINT]
    previous: dict[int, Any] = {sig: signal.signal(sig, on_signal) for sig in handled}
    service = Service(db, options, say=say)
    shown = db.url.render_as_string(hide_password=True)
    log.info("service starting", extra={"fields": {"event": "starting", "database": shown, "listen": listen}})
    try:
        try:
            service.start()
        except ListenError as exc:
            raise CommandError(str(exc)) from None
        say(f"Journey Studio service: database {shown}; log {path}; stop with Ctrl-C or SIGTERM")
        while not stop.wait(0.5):
            pass
        log.info("stopping on %s: finishing the batch in hand", received[0],
                 extra={"fields": {"event": "stopping", "signal": received[0]}})
        say("Stopping: finishing the batch in hand…")
    finally:
        service.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        db.dispose()
    say("Stopped.")
    return 0


def add_service_commands(sub: Any, db_parent: argparse.ArgumentParser) -> None:
    """Registers `serve` and `service install|uninstall|status` on the `journeys` parser."""
    from app.service.http import DEFAULT_LISTEN

    p = sub.add_parser("serve", parents=[db_parent], help="Run the engine and the receiver in the background "
                       "until stopped (SIGTERM or Ctrl-C).",
                       description="Run the engine's jobs (moving contacts, sending, polling statuses) and the "
                                   "HTTP receiver in one long-running process. Only one engine runs per database: "
                                   "while the app or another service runs it, this one waits and takes over when "
                                   "that stops.")
    p.set_defaults(handler=cmd_serve)
    p.add_argument("--listen", metavar="HOST:PORT", default=None,
                   help=f"where the receiver listens (default: the address set in File → Receiver… or "
                        f"`journeys receiver set --listen`, else {DEFAULT_LISTEN}: this machine only)")
    p.add_argument("--log-file", metavar="PATH", help="the JSON-lines log (default: journeys-service.jsonl in the "
                                                       "app's data folder, or $JOURNEYS_SERVICE_LOG)")
    # Intervals: the defaults suit everyone; the tests run the service faster.
    for option, default in (("--tick-seconds", 5.0), ("--scan-seconds", 60.0), ("--outbox-seconds", 5.0),
                            ("--heartbeat-seconds", 10.0), ("--lease-seconds", 30.0)):
        p.add_argument(option, type=_seconds, default=default, help=argparse.SUPPRESS)
    from app.cli_service_install import add_install_commands

    add_install_commands(sub, db_parent)
