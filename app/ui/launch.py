"""Start-up: arguments, the database, the main window.

Heavy modules are imported after the QApplication exists so the window appears
quickly; a database that cannot be opened is reported in a dialog, not a traceback.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from PySide6.QtCore import QCoreApplication, QTimer


EXIT_NO_WINDOW = 3           # system libraries for a window are missing (2: the database cannot be opened)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="journey-studio", description="Journey Studio")
    parser.add_argument("--db", metavar="URL", help="database URL or SQLite file (default: $JOURNEYS_DB, "
                                                    "else the app's own database)")
    parser.add_argument("--screenshot", metavar="OUT.png",
                        help="render the window offscreen to OUT.png and exit")
    parser.add_argument("journey", nargs="?", help="with --screenshot: a journey file to show")
    return parser.parse_args(argv)


def _may_ask() -> bool:
    """Whether start-up may ask the user something: not offscreen (tests, CI, screenshots), not in
    `make bench`, not when JOURNEY_STUDIO_NO_QUESTIONS is set."""
    return not (os.environ.get("QT_QPA_PLATFORM") == "offscreen" or os.environ.get("JOURNEY_STUDIO_QUIT_WHEN_SHOWN")
                or os.environ.get("JOURNEY_STUDIO_NO_QUESTIONS"))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.screenshot:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from app.ui.system_libraries import install_hint, missing_for_window

    missing = missing_for_window()
    if missing:                  # Qt would abort with a generic message that names no package
        print(install_hint(missing), file=sys.stderr)
        return EXIT_NO_WINDOW
    from PySide6.QtWidgets import QApplication, QMessageBox

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName("Journey Studio")
    app.setOrganizationName("JourneyStudio")
    from app.ui.typography import install_app_fonts

    install_app_fonts(app)

    from app.logfile import setup_logging

    setup_logging()      # full tracebacks of what the engine isolates go to the log file
    from app.examples import seed_examples
    from app.store.db import open_database
    from app.store.errors import StoreError
    from app.store.journeys import JourneyStore

    try:
        store = JourneyStore(open_database(args.db))
    except StoreError as exc:
        if args.screenshot:
            print(f"journey-studio: {exc}", file=sys.stderr)
        else:
            QMessageBox.critical(None, "Journey Studio", f"The database could not be opened.\n\n{exc}")
        return 2
    seed_examples(store)

    from app.ui.main_window import MainWindow

    window = MainWindow(store)
    if args.screenshot:
        return window.screenshot(args.screenshot, args.journey)
    window.show()
    window.open_recent()
    # The engine starts once the window is up: a busy first tick must not delay the first paint.
    from PySide6.QtCore import QTimer

    QTimer.singleShot(500, window.start_engine)
    if _may_ask():     # first start: the business's time zone, in a dialog that does not block
        QTimer.singleShot(0, window.ask_business_timezone)
    if os.environ.get("JOURNEY_STUDIO_QUIT_WHEN_SHOWN"):   # for `make bench`: start-up time, then exit
        def shown() -> None:
            print(f"shown {time.time():.6f}", flush=True)
            app.quit()
        QTimer.singleShot(0, shown)
    import signal

    previous = signal.getsignal(signal.SIGTERM)
    wake = quit_on_sigterm(app)
    try:
        return app.exec()
    finally:
        # Quitting without closing the window (SIGTERM: a log-out, a system shutdown) still ends the
        # engine properly: the dispatcher finishes the message in hand and gives the rest of its claim back.
        window.host.shutdown()
        wake.stop()
        signal.signal(signal.SIGTERM, previous)


def quit_on_sigterm(app: "QCoreApplication") -> "QTimer":
    """Makes SIGTERM quit `app`'s event loop (as closing the window does) instead of killing the process
    mid-send, which would leave the message being sent `unknown`. Python runs signal handlers only
    between bytecodes, so a timer wakes the interpreter a few times a second while Qt waits; returns it."""
    import signal

    from PySide6.QtCore import QTimer

    signal.signal(signal.SIGTERM, lambda _signum, _frame: app.quit())
    wake = QTimer(app)
    wake.timeout.connect(lambda: None)
    wake.start(250)
    return wake
