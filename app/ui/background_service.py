"""Journeys that keep running when the window is closed: the app's side of the background service.

- The status bar says who runs the engine when it is not this window: "Engine: running in the
  background since 14:02 (2 hours ago)" (the lease, app/store/lease.py; refreshed at each of the
  lease keeper's rounds).
- Settings → "Keep journeys running when Journey Studio is closed" installs or removes the per-user
  service (app/service/install.py: what `journeys service install|uninstall` does), off the GUI thread.
- Closing the window while it runs active journeys and no service is installed asks once whether
  to keep them running in the background; the answer is remembered in the database's settings
  (`background_service_asked`: "yes" once the service is installed, or "no") and never asked again; a
  "yes" whose install failed is asked again at a later close.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel, QMessageBox, QWidget
from sqlalchemy.engine import Engine

from app.service.install import (Plan, Run, ServiceError, ServiceState, install, plan_for, platform_key,
                                 run_command, status, uninstall)
from app.service.words import describe_holder, engine_text, human_since
from app.store.app_settings import all_settings, set_setting
from app.store.lease import LeaseHolder

from .background import Background

if TYPE_CHECKING:
    from .main_window import MainWindow

log = logging.getLogger(__name__)

ASKED_KEY = "background_service_asked"
LISTEN: str | None = None      # the service listens where Settings → Receiver says when it starts
SETTING_TEXT = "Keep journeys running when Journey Studio is closed"
SETTING_HELP = ("Installs a small background service for your user account: it starts when you log in, "
                "restarts if it fails, and moves your active journeys along (waits, reminders, sending) "
                "while this window is closed. Only one engine ever runs: while the window is open and the "
                "service runs, the service does the work.")
QUESTION = "Keep your journeys running after Journey Studio closes?"
QUESTION_DETAIL = ("{n} running. While Journey Studio is closed nothing moves: waits end and reminders go "
                   "out only once you open it again. A background service keeps them running; it starts "
                   "when you log in. You can change this later in File → Settings.")


class BackgroundService(QObject):
    """The per-user service for this window's database. `changed(installed, message)` after
    `set_keep_running` finished (message: what happened, or why it failed)."""

    changed = Signal(bool, str)

    def __init__(self, db: Engine, parent: QObject | None = None, *, run: Run = run_command,
                 platform: str | None = None) -> None:
        super().__init__(parent)
        self.db, self.run_with = db, run
        self._platform = platform
        self._work = Background(self, threads=1)
        self.busy = False
        self.failure_box: QMessageBox | None = None

    def plan(self) -> Plan | None:
        """The service's plan on this machine, or None where no service manager is known."""
        try:
            platform = platform_key(self._platform)
        except ServiceError:
            return None
        return plan_for(platform, self.db.url.render_as_string(hide_password=False), LISTEN)

    def installed(self) -> bool:
        """Whether the service's file is in place (no command run: cheap enough for the GUI thread)."""
        plan = self.plan()
        return plan is not None and plan.path.exists()

    def set_keep_running(self, on: bool, then: Callable[[bool, str], object] | None = None) -> None:
        """Installs (`on`) or removes the service on a worker thread; `changed` (and `then`) report."""
        plan = self.plan()
        if plan is None:
            self._report(False, "this system has no per-user service manager Journey Studio knows", then)
            return
        self.busy = True

        def work() -> tuple[bool, str]:
            if on:
                try:
                    install(plan, self.run_with)
                except ServiceError:
                    plan.path.unlink(missing_ok=True)     # half installed is not installed: the box stays unticked
                    raise
                return True, "Journeys now keep running in the background when Journey Studio is closed."
            uninstall(plan, self.run_with)
            return False, "The background service was removed: journeys run while Journey Studio is open."

        def failed(exc: Exception) -> None:
            text = str(exc) if isinstance(exc, (ServiceError, OSError)) else f"unexpected error: {exc}"
            self._report(self.installed(), f"The background service could not be {'installed' if on else 'removed'}: "
                                           f"{text}", then)

        self._work.run(work, lambda result: self._report(result[0], result[1], then), failed)

    def _report(self, installed: bool, message: str, then: Callable[[bool, str], object] | None) -> None:
        self.busy = False
        self.changed.emit(installed, message)
        if then is not None:
            then(installed, message)

    def check(self, then: Callable[[str], None], owner: QObject | None = None) -> None:
        """Asks the service manager whether the service runs, off the GUI thread; `then(sentence)`, e.g.
        "The service is running (active, enabled at login)." (nothing when it is not installed)."""
        plan = self.plan()
        if plan is None or not plan.path.exists():
            return

        def said(state: ServiceState) -> None:
            then(f"The service is running ({state.said})." if state.running
                 else f"The service is installed but not running ({state.said}); see `journeys service status` "
                      "and its log, journeys-service.jsonl.")

        self._work.run(lambda: status(plan, self.run_with), said, owner=owner)

    def wait(self) -> bool:
        return self._work.wait()

    # -- asking once on close ----------------------------------------------------------------------

    def asked(self) -> str | None:
        """The remembered answer: "yes", "no", or None when never asked."""
        return all_settings(self.db).get(ASKED_KEY)

    def remember(self, answer: str) -> None:
        set_setting(self.db, ASKED_KEY, answer)

    def should_ask(self, runs_engine: bool, active_journeys: int) -> bool:
        """Ask on close when this window runs the engine for active journeys, no service is installed,
        a service can be installed here, and the question was never answered."""
        return runs_engine and active_journeys > 0 and self.plan() is not None and not self.installed() \
            and self.asked() is None

    def ask(self, parent: QWidget, active_journeys: int, then: Callable[[], object]) -> QMessageBox:
        """The question, non-blocking (`open()`); `then()` runs once answered (and installed, on yes)."""
        box = QMessageBox(QMessageBox.Icon.Question, "Keep journeys running?", QUESTION, parent=parent)
        box.setInformativeText(QUESTION_DETAIL.format(
            n="1 journey is" if active_journeys == 1 else f"{active_journeys} journeys are"))
        keep = box.addButton("Keep running in the background", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Only while the app is open", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(keep)

        def installed(done: bool, message: str) -> None:
            if done:
                self.remember("yes")      # only once it is installed: a failed install is asked again
                then()
                return
            # The window stays open (its engine keeps the journeys running) and says why; closing it again
            # closes it without asking.
            failure = QMessageBox(QMessageBox.Icon.Warning, "Keep journeys running?", message, parent=parent)
            failure.setInformativeText("Journey Studio stays open for now: your journeys run while it is. "
                                       "Try again in File → Settings once the cause is fixed.")
            failure.open()
            self.failure_box = failure

        def answered(button: object) -> None:
            if button is keep:
                self.set_keep_running(True, installed)
            else:
                self.remember("no")
                then()

        box.buttonClicked.connect(answered)
        box.open()
        return box


class EngineStatusLabel(QLabel):
    """The status bar's "Engine: running in the background since …", shown only while another process
    (the service, or another window) runs the engine of this database."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("engineStatus")
        self.hide()

    def show_elsewhere(self, holder: LeaseHolder | None) -> None:
        if holder is None:          # could not be read this round: keep what was said
            return
        # Short enough for the status bar (the command line says the process and host in full): a long
        # host name pushed "since …" past the window's edge. Who exactly is in the tooltip.
        self.setText(engine_text(holder) if holder.kind == "service"
                     else f"Engine: running in another Journey Studio window since {human_since(holder.acquired_at)}")
        self.setToolTip(f"{describe_holder(holder)[0].upper()}{describe_holder(holder)[1:]} runs the engine: "
                        "active journeys move on there; this window shows and edits them. If it stops, this "
                        "window takes over within a minute.")
        self.show()

    def show_here(self) -> None:
        self.hide()


def install_background_service(window: "MainWindow") -> BackgroundService:
    """Adds the engine's whereabouts to the window's status bar and the background service's controller
    (its messages go to the status bar too); returns the controller."""
    label = EngineStatusLabel()
    window.statusBar().addPermanentWidget(label)
    window.engine_status = label          # type: ignore[attr-defined]
    window.host.engine_elsewhere.connect(label.show_elsewhere)      # queued: emitted on the lease's thread
    window.host.engine_here.connect(label.show_here)
    service = BackgroundService(window.store.engine, window)
    service.changed.connect(lambda _installed, message: window.statusBar().showMessage(message, 10_000))
    return service


def ask_before_close(window: "MainWindow") -> bool:
    """On closing: True when the question was put (the close waits for the answer, then closes again).
    Asked at most once per closing, and never again once answered."""
    if getattr(window, "_asked_keep_running", False):
        return False
    service: BackgroundService = window.background_service
    active = sum(1 for row in window.store.list() if row.status == "active")
    if not service.should_ask(window.host.runs_engine(), active):
        return False
    window._asked_keep_running = True      # type: ignore[attr-defined]
    window.keep_running_box = service.ask(window, active, window.close)     # type: ignore[attr-defined]
    return True
