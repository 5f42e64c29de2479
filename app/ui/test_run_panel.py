"""Journey → Test run…: one contact through the draft on a virtual clock, lit on the canvas.

A dock below the canvas: who (a described contact or one from the store), what starts it (the trigger
event and its time), what the contact does after (editable rows), and the story of the run beside them.
The run itself (app/engine/test_run.run_test: a throwaway database, the real engine, nothing sent) works
on a worker thread; only the newest answer is shown. After the first run every change — to the script,
or to the journey on the canvas — runs it again at once, so the lit path follows the edits. Clear (or
closing the dock) returns the canvas to normal. Lighting is a view state: no undo step, no file change.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QKeySequence
from PySide6.QtWidgets import (QDockWidget, QHBoxLayout, QLabel, QPushButton, QScrollArea,
                               QVBoxLayout, QWidget)
from sqlalchemy.engine import Engine

from app.canvas.editor import CanvasEditor
from app.canvas.lighting import path_colours
from app.canvas.style import theme
from app.engine.test_run import TestRun, TestRunError, TestScript, run_test
from app.journey.fileformat import JourneyFileError, from_document, to_document
from app.journey.model import Journey

from .background import Background, background
from .icons import ui_icon
from .test_run_script import ScriptEditor
from .test_run_setup import ContactChooser, TriggerChooser, build_script
from .test_run_story import StoryList, end_tone, summary_words
from .theme import colours

if TYPE_CHECKING:
    from app.journey.validate import Problem

    from .main_window import MainWindow

log = logging.getLogger(__name__)
RERUN_DELAY_MS = 250         # after an edit: quick enough to feel instant, slow enough to batch a typed word


def _attempt(journey: Journey, script: TestScript, engine: Engine) -> TestRun | TestRunError:
    """run_test on the worker; a test that cannot run (the user's to fix) comes back as a value, so the
    log file keeps tracebacks for real faults only."""
    try:
        return run_test(journey, script, live_db=engine)
    except TestRunError as exc:
        return exc


def _title(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("panelTitle")
    return label


class TestRunPanel(QWidget):
    """The dock's content. `run()` starts a run; `clear()` ends the test and unlights the canvas."""
    __test__ = False

    def __init__(self, window: "MainWindow", pool: Background | None = None) -> None:
        super().__init__()
        self.setObjectName("testRunPanel")
        self.window_ = window
        self.pool = pool or background()
        self.editor: CanvasEditor | None = None
        self.dock: QDockWidget | None = None
        self.last: TestRun | None = None
        self.live = False                  # a run was asked for: edits run it again
        self._ticket = 0
        self.running = False
        self.warmed = False                # the engine's first-run costs paid (see _warm_up)
        self._rerun = QTimer(self)
        self._rerun.setSingleShot(True)
        self._rerun.setInterval(RERUN_DELAY_MS)
        self._rerun.timeout.connect(self.run)

        self.contact = ContactChooser(window.store.engine, self.pool)
        self.trigger = TriggerChooser()
        self.script = ScriptEditor()
        self.story = StoryList()
        self.run_button = QPushButton("Run test")
        self.run_button.setObjectName("runTest")
        self.run_button.setIcon(ui_icon("test_run"))
        self.run_button.setToolTip("Run the journey for this contact on a virtual clock; nothing is sent (Ctrl+Return)")
        self.run_button.setShortcut(QKeySequence("Ctrl+Return"))
        self.clear_button = QPushButton("Clear")
        self.clear_button.setObjectName("clearTest")
        self.clear_button.setToolTip("Return the canvas to normal")
        self.clear_button.setEnabled(False)
        self.result = QLabel("Choose who and what happens, then Run test. The path lights up on the canvas.")
        self.result.setObjectName("testResult")
        self.result.setWordWrap(True)
        self.result.setTextFormat(Qt.TextFormat.PlainText)

        who = QVBoxLayout()
        who.addWidget(_title("Who"))
        who.addWidget(self.contact, 1)
        what = QVBoxLayout()
        what.addWidget(_title("What starts it"))
        what.addWidget(self.trigger)
        what.addWidget(_title("Then the contact"))
        scroll = QScrollArea()
        scroll.setObjectName("thenScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.script)
        what.addWidget(scroll, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.clear_button)
        buttons.addStretch(1)
        what.addLayout(buttons)
        story = QVBoxLayout()
        story.addWidget(_title("What happened"))
        story.addWidget(self.result)
        story.addWidget(self.story, 1)
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 6, 10, 8)
        row.setSpacing(18)
        for layout, stretch, width in ((who, 0, 260), (what, 0, 420), (story, 1, 0)):
            holder = QWidget()
            holder.setLayout(layout)
            layout.setContentsMargins(0, 0, 0, 0)
            if width:
                holder.setFixedWidth(width)
            row.addWidget(holder, stretch)
        self._style()

        self.run_button.clicked.connect(self.run)
        self.clear_button.clicked.connect(self.clear)
        for part in (self.contact, self.trigger, self.script):
            part.changed.connect(self._edited)
        self.contact.changed.connect(self._zone_note)
        self.story.step_requested.connect(self._reveal)
        self.story.message_requested.connect(self._open_message)
        self._zone_note()

    def _style(self) -> None:
        c, path = colours(), path_colours().path
        hover = QColor(path).darker(115).name()
        ink = "#0b2e2b" if theme().dark else "#ffffff"        # on the bright teal of the dark theme, dark text
        self.setStyleSheet(f"""
            QPushButton#runTest {{ background: {path.name()}; color: {ink}; font-weight: 600; border: none;
                                   border-radius: 6px; padding: 6px 16px; }}
            QPushButton#runTest:hover {{ background: {hover}; }}
            QPushButton#runTest:disabled {{ background: {c['border']}; color: {c['muted']}; }}
            QPushButton#segment {{ padding: 4px 12px; border: 1px solid {c['border']}; background: {c['base']}; }}
            QPushButton#segment:checked {{ background: {c['selected']}; border-color: {c['highlight']};
                                           font-weight: 600; }}
            QLabel#testResult {{ font-size: 14px; font-weight: 600; padding: 2px 0 4px 0; }}
        """)

    # --- the open journey ---------------------------------------------------------

    def set_editor(self, editor: CanvasEditor | None) -> None:
        """The journey on the canvas changed (opened, closed, another one): the test starts afresh."""
        if editor is self.editor:
            return
        if self.editor is not None:
            try:
                self.editor.doc.changed.disconnect(self._edited)
            except (RuntimeError, TypeError):
                pass           # the editor is being deleted
        self.editor, self.last, self.live, self.running = editor, None, False, False
        self._rerun.stop()
        self._ticket += 1      # an answer for the previous journey is dropped
        self.story.show_run(None, None)
        self.clear_button.setEnabled(False)
        self.result.setText("Choose who and what happens, then Run test. The path lights up on the canvas.")
        self.result.setStyleSheet("")
        self.run_button.setEnabled(editor is not None)
        if editor is not None:
            editor.doc.changed.connect(self._edited)
            self.trigger.set_trigger(editor.journey)
            if self.dock is not None and self.dock.isVisible():
                editor.minimap.set_wanted(False)

    def dock_shown(self, shown: bool) -> None:
        """Test mode: the minimap makes room for the lit path; closing the dock ends the test."""
        editor = self.editor
        if editor is None:
            return
        if shown:
            editor.minimap.set_wanted(False)
            QTimer.singleShot(0, self._size_dock)
            self._warm_up()
        else:
            if self.live or self.last is not None:
                self.clear()
            editor.minimap.set_wanted(self.window_.actions_["minimap"].isChecked())

    def _warm_up(self) -> None:
        """Once per session, while the user sets up the test: a quiet run on a worker (its answer
        dropped), so the engine's modules, the templates and the throwaway database's first-time costs
        are paid before Run test — the first run is then as quick as the next (about 1 s → 0.1 s)."""
        if self.warmed or self.editor is None:
            return
        self.warmed = True
        try:
            script = build_script(self.contact, self.trigger, (), self.window_.business_zone())
            journey = from_document(to_document(self.editor.journey), "the journey on the canvas")
        except (TestRunError, JourneyFileError):
            return
        work = run_test        # bound now: the warm-up is no part of any later run

        def quietly() -> None:
            try:
                work(journey, script, live_db=None)
            except TestRunError:
                pass           # e.g. the draft has errors: the modules are loaded all the same
        self.pool.run(quietly, lambda _none: None, lambda _exc: None, owner=self)

    def _size_dock(self) -> None:
        window, dock = self.window_, self.dock
        if dock is not None and dock.isVisible():
            window.resizeDocks([dock], [int(max(215, min(260, window.height() * 0.33)))], Qt.Orientation.Vertical)

    def _edited(self) -> None:
        """The script, the contact or the journey changed: once a test has run, it runs again."""
        if self.editor is not None and self.sender() is self.editor.doc:
            self.trigger.set_trigger(self.editor.journey)      # the trigger's event may have been edited
        if self.live:
            self._rerun.start()

    def _zone_note(self) -> None:
        zone = self.contact.zone_name() or self.window_.business_zone() or "UTC"
        self.trigger.zone_note.setText(zone if self.contact.zone_name() else f"{zone} (business)")

    # --- running ------------------------------------------------------------------

    def run(self) -> None:
        """Runs the test on a worker; the newest answer lights the canvas."""
        editor = self.editor
        if editor is None:
            return
        self._rerun.stop()
        try:
            script = build_script(self.contact, self.trigger, self.script.script(), self.window_.business_zone())
        except TestRunError as exc:
            self._unlight()
            self._say(str(exc), "bad")
            return
        try:        # the worker's own copy: later edits on the canvas do not reach it
            journey = from_document(to_document(editor.journey), "the journey on the canvas")
        except JourneyFileError as exc:
            self._unlight()
            self._say(f"Cannot run the test: {exc}", "bad")
            return
        self.live = True
        self._ticket += 1
        ticket, engine = self._ticket, self.window_.store.engine
        self.running = True
        self.clear_button.setEnabled(True)
        if self.last is None:
            self._say("Running…", "info")
        self.pool.run(lambda: _attempt(journey, script, engine),
                      lambda run: self._ran(ticket, run), lambda exc: self._failed(ticket, exc), owner=self)

    def _ran(self, ticket: int, run: TestRun | TestRunError) -> None:
        if isinstance(run, TestRunError):
            self._failed(ticket, run)
            return
        if ticket != self._ticket:
            return                 # a newer run (or another journey) since: drop it
        self.running = False
        self.show_run(run)

    def show_run(self, run: TestRun) -> None:
        """Lights `run` on the canvas and lists its story (also used by tests with a made-up run)."""
        editor = self.editor
        if editor is None:
            return
        first = self.last is None
        self.last = run
        self.clear_button.setEnabled(True)
        editor.lighting.show(run)
        self._show_banner(editor, run)
        if first:           # the whole path in view; later re-runs keep the view the user chose
            editor.view.fit()
        self.story.show_run(run, editor.journey)
        self._say(summary_words(run), end_tone(run))

    def _failed(self, ticket: int, exc: Exception) -> None:
        if ticket != self._ticket:
            return
        self.running = False
        self._unlight()
        problems = getattr(exc, "problems", None)       # the engine's DraftNotReady: the draft's errors
        if isinstance(exc, TestRunError) and problems:
            self._say(self._not_ready_words(problems), "bad")
        elif isinstance(exc, TestRunError):
            self._say(f"Cannot run the test: {exc}", "bad")
        elif isinstance(exc, NotImplementedError):
            self._say("Test runs are not available in this build yet.", "bad")
        else:
            log.error("test run failed", exc_info=exc)
            self._say(f"The test run failed (a bug; the log file has the details): {type(exc).__name__}: {exc}",
                      "bad")

    def _not_ready_words(self, problems: "list[Problem]") -> str:
        """The draft's errors by step: "“Cart abandonment” cannot run yet: Tag, Discount SMS — no path
        from the trigger reaches them; …" (the engine's words say "this step", with no step named)."""
        journey = self.editor.journey if self.editor is not None else None
        groups: dict[str, list[str]] = {}
        for problem in problems:
            node = journey.nodes.get(problem.node_id) if journey is not None and problem.node_id else None
            titles = groups.setdefault(str(problem.message), [])
            if node is not None and node.title not in titles:
                titles.append(node.title)
        parts = []
        for message, titles in groups.items():
            if titles:
                them = "them" if len(titles) > 1 else "it"
                message = message.replace("this step", them)
                parts.append(f"{', '.join(titles)} — {message[:1].lower()}{message[1:]}")
            else:
                parts.append(message)
        name = journey.name if journey is not None else "The journey"
        return (f"“{name}” cannot run yet: {'; '.join(parts)}. Fix {'it' if len(problems) == 1 else 'them'} "
                "(see the Problems list) and run the test again.")

    def _show_banner(self, editor: CanvasEditor, run: TestRun) -> None:
        """A pill at the top left of the canvas says the canvas shows a test, not the live journey."""
        banner = editor.view.findChild(QLabel, "testRunBanner")
        if banner is None:
            banner = QLabel(editor.view)
            banner.setObjectName("testRunBanner")
            path = path_colours().path
            ink = "#0b2e2b" if theme().dark else "#ffffff"
            banner.setStyleSheet(f"QLabel {{ background: {path.name()}; color: {ink}; font-weight: 600; border-radius: 11px;"
                                 f" border: 1px solid {path.name()}; padding: 3px 12px; }}")
            banner.move(14, 12)
        who = self.contact.who()
        banner.setText(f"TEST RUN{' · ' + who if who else ''} · {len(run.reached)} of "
                       f"{len(editor.journey.nodes)} steps reached · {run.end}")
        banner.adjustSize()
        banner.show()
        banner.raise_()

    def _unlight(self) -> None:
        """The path shown before no longer matches what was asked: unlit rather than misleading."""
        self.last = None
        if self.editor is not None:
            self.editor.lighting.clear()
            self._hide_banner(self.editor)
        self.story.show_run(None, None)

    @staticmethod
    def _hide_banner(editor: CanvasEditor) -> None:
        banner = editor.view.findChild(QLabel, "testRunBanner")
        if banner is not None:
            banner.hide()

    def _say(self, text: str, tone: str) -> None:
        c = path_colours()
        colour = {"ok": c.ok, "warn": c.warn, "bad": c.bad, "path": c.path}.get(tone)
        self.result.setStyleSheet(f"color: {colour.name()};" if colour is not None else "")
        self.result.setText(text)

    def clear(self) -> None:
        """Ends the test: the canvas back to normal, the story emptied; the script stays for next time."""
        self._ticket += 1
        self._rerun.stop()
        self.live, self.last, self.running = False, None, False
        if self.editor is not None:
            self.editor.lighting.clear()
            self._hide_banner(self.editor)
        self.story.show_run(None, None)
        self.clear_button.setEnabled(False)
        self._say("Cleared. Run test again to light the path.", "info")

    # --- the story ------------------------------------------------------------------

    def _reveal(self, node_id: str) -> None:
        if self.editor is not None and node_id in self.editor.journey.nodes:
            self.editor.view.centre_on_node(node_id)

    def _open_message(self, row: int) -> None:
        entry = self.story.entry(row)
        if entry is not None and entry.message is not None:
            from .test_run_message import open_message

            open_message(self, entry.message)
