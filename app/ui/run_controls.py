"""Activate, pause and stop the open journey, and show how it is doing.

A poll every few seconds reads the journey's status and per-step statistics on
the engine host's worker (a handful of counter rows, whatever the number of
contacts) and puts the numbers on the canvas steps. Commands run on the same
worker; the window only ever waits for a reply it is sent.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from datetime import datetime, timedelta, timezone

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QComboBox, QLabel, QMessageBox

from app.engine.gate import JourneyNotReady, describe

from .engine_host import EngineHost, JourneyState
from .wheel import guard_wheel

if TYPE_CHECKING:
    from .main_window import MainWindow

POLL_MS = 3000
RANGES = (("Numbers: all time", None), ("Numbers: last 24 hours", timedelta(days=1)),
          ("Numbers: last 7 days", timedelta(days=7)), ("Numbers: last 30 days", timedelta(days=30)))


def status_text(state: JourneyState | None) -> str:
    """The status bar's words for a journey's run state."""
    if state is None or state.status == "draft":
        return "Draft: not running"
    if state.status == "stopped":
        return "Stopped"
    text = f"{state.status.capitalize()} · version {state.version}"
    return f"{text} · edits not live yet" if state.changed else text


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


class RunControls(QObject):
    def __init__(self, window: "MainWindow", host: EngineHost, actions: dict[str, QAction]) -> None:
        super().__init__(window)
        self.window, self.host, self.actions = window, host, actions
        self.state: JourneyState | None = None
        self.label = QLabel()
        self.label.setObjectName("runState")
        # Which period the numbers on the steps count ("waiting" is always now).
        self.range = QComboBox()
        self.range.setObjectName("statsRange")
        self.range.setToolTip("The period the numbers on the steps count; waiting is always now")
        for text, span in RANGES:
            self.range.addItem(text, span)
        self.range.currentIndexChanged.connect(lambda _i: self.poll())
        guard_wheel(self.range)
        self._polling = False
        self._again = False          # asked again while a poll was out (e.g. after a command): read once more
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        self.timer.start()
        actions["activate"].triggered.connect(self.activate)
        actions["pause"].triggered.connect(self.pause)
        actions["stop"].triggered.connect(self.stop)
        self.update_actions()

    def _journey(self) -> tuple[str, str] | None:
        """The open journey's id and name, when it is in the library."""
        session = self.window.session
        if session is None or session.journey_id is None:
            return None
        return session.journey_id, session.editor.journey.name

    # -- polling ----------------------------------------------------------------------

    def poll(self) -> None:
        journey = self._journey()
        if journey is None:
            return
        if self._polling:
            self._again = True
            return
        self._polling = True
        journey_id = journey[0]
        span: timedelta | None = self.range.currentData()
        since = datetime.now(timezone.utc) - span if span else None
        self.host.submit(lambda: self.host.state(journey_id, since), lambda state: self._show(journey_id, state),
                         self._poll_failed)

    def _poll_failed(self, exc: Exception) -> None:
        self._polling = self._again = False
        self.window.statusBar().showMessage(f"Could not read the journey's statistics: {exc}", 8000)

    def _show(self, journey_id: str, state: JourneyState | None) -> None:
        self._polling = False
        if self._again:
            self._again = False
            self.poll()
        journey = self._journey()
        if journey is None or journey[0] != journey_id:
            return          # another journey was opened meanwhile: its own poll follows
        before, self.state = self.state, state
        if state is not None and (before is None or before.status != state.status):
            self.window.refresh_list()       # the status may have changed elsewhere (the CLI, another window)
        editor = self.window.editor
        if editor is not None:
            ran = state is not None and (state.status != "draft" or state.stats.entered > 0)
            shown = state.stats if state is not None and ran else None
            editor.scene.show_stats(shown)
            self.window.inspector.set_stats(shown, self.range.currentText().removeprefix("Numbers: "))
        self.update_actions()

    def journey_changed(self) -> None:
        """Another journey is open (or none): forget the last one's numbers and read the new one's."""
        self.state = None
        self.window.inspector.set_stats(None)
        self.update_actions()
        self.poll()

    def update_actions(self) -> None:
        open_ = self._journey() is not None
        status = self.state.status if self.state else "draft"
        activate, pause, stop = (self.actions[k] for k in ("activate", "pause", "stop"))
        if status == "active" and self.state and self.state.changed:
            activate.setText("Publish changes")
            activate.setToolTip("Make the edits live: new contacts get them, those inside keep their version")
        else:
            activate.setText("Resume" if status == "paused" else "Activate")
            activate.setToolTip("Start the journey: contacts enter and move through it")
        activate.setEnabled(open_ and (status != "active" or bool(self.state and self.state.changed)))
        pause.setEnabled(open_ and status == "active")
        stop.setEnabled(open_ and status in ("active", "paused"))
        self.label.setText(status_text(self.state) if open_ else "")
        self.range.setVisible(open_ and self.state is not None and self.state.status != "draft")

    # -- commands ---------------------------------------------------------------------

    def _run(self, work: Callable[[], Any], done: Callable[[Any], str],
             explain: Callable[[Exception], bool] | None = None) -> None:
        """Runs a command on the worker; then says what happened, refreshes the list and polls.
        `explain` may show a failure its own way (returning True); any other says what went wrong."""
        def finished(result: object) -> None:
            self.window.statusBar().showMessage(done(result), 8000)
            self.window.refresh_list()
            self.poll()

        def failed(exc: Exception) -> None:
            if explain is None or not explain(exc):
                QMessageBox.warning(self.window, "Journey Studio", f"That did not work.\n\n{exc}")
            self.poll()

        self.host.submit(work, finished, failed)

    def activate(self) -> None:
        """Activate, Resume or Publish changes: the engine checks the saved draft and refuses one
        with errors (JourneyNotReady); its problems are shown here, as the CLI prints them."""
        journey = self._journey()
        window = self.window
        if journey is None or window.session is None or window.editor is None:
            return
        journey_id, name = journey
        if not window.session.save():
            QMessageBox.warning(window, "Journey Studio",
                                f"“{name}” could not be saved, so it cannot start.\n\n{window.session.error}")
            return
        engine = self.host.engine
        note = ""
        if not window.editor.journey.settings.get("timezone") and not window.business_zone():
            note = " No business time zone is set: contacts without one are judged in UTC (File → Settings)."
        if self.state is not None and self.state.status == "active":
            self._run(lambda: engine.publish(journey_id), lambda version: (
                f"The changes to “{name}” are live: new contacts enter version {version}."), self._not_ready)
        else:
            self._run(lambda: engine.activate(journey_id),
                      lambda version: f"“{name}” is active: new contacts enter version {version}.{note}",
                      self._not_ready)

    def _not_ready(self, exc: Exception) -> bool:
        """Shows the engine's refusal (its problems in the list below the canvas); False for any other error."""
        window = self.window
        if not isinstance(exc, JourneyNotReady) or window.editor is None:
            return False
        errors = exc.problems
        window.editor.validator.run_now()
        window.problems.show_problems(errors, window.editor.journey)
        window.fit_problems()
        QMessageBox.warning(
            window, "Not ready to start",
            f"“{exc.name}” has {_plural(len(errors), 'error')} to fix before it can run:\n\n"
            + "\n".join(f"• {describe(p, window.editor.journey)}" for p in errors[:5])
            + ("\n…" if len(errors) > 5 else "") + "\n\nThey are listed below the canvas.")
        return True

    def pause(self) -> None:
        journey = self._journey()
        if journey is not None:
            journey_id, name = journey
            self._run(lambda: self.host.engine.pause(journey_id),
                      lambda _: f"“{name}” is paused: nobody enters or moves on until you resume it.")

    def stop(self) -> None:
        journey = self._journey()
        if journey is None:
            return
        journey_id, name = journey
        inside = self.state.stats.active if self.state else 0
        answer = QMessageBox.question(
            self.window, "Stop the journey?",
            f"Stop “{name}”?\n\n{_plural(inside, 'contact')} in it will leave now and get nothing more "
            "from it. You can activate it again later; they will not come back.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
        if answer != QMessageBox.StandardButton.Yes:
            return
        self._run(lambda: self.host.engine.stop(journey_id),
                  lambda left: f"“{name}” is stopped; {_plural(left, 'contact')} left it.")
