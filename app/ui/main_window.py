"""The main window: journeys on the left with the palette, the canvas in the middle
with the problems below it, the inspector on the right."""
from __future__ import annotations

import time
from typing import Any, Callable

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QUndoGroup
from sqlalchemy.exc import SQLAlchemyError
from PySide6.QtWidgets import (QApplication, QLabel, QMainWindow, QMessageBox, QSplitter, QStackedWidget,
                               QTabWidget,
                               QVBoxLayout, QWidget)

from app.canvas.editor import CanvasEditor
from app.canvas.view import CanvasView
from app.journey.fileformat import JourneyFileError, from_document, load
from app.journey.model import Journey
from app.journey.templates import VariableCatalog
from app.journey.validate import ERROR
from app.store.errors import StoreError
from app.engine.gate import public_url
from app.store.app_settings import business_timezone
from app.store.catalog import known_variables
from app.store.journeys import JourneyStore

from . import library
from .editors import TimezoneEditor
from .engine_host import EngineHost
from .inspector import Inspector
from .journey_list import JourneyList
from .menus import build_menus, update_enabled
from .palette import Palette
from .preview_pane import PreviewPane
from .problems import ProblemsPanel
from .run_controls import RunControls
from .session import EditorSession
from .settings_dialog import SettingsDialog
from .theme import apply_theme
from .wheel import guard_application

SCREENSHOT_SIZE = QSize(1400, 900)
PREVIEW_WIDTH = 440      # px: the side panel's width while the Preview tab is shown (a 360 px phone fits)


def problem_count(errors: int, warnings: int) -> str:
    """"No problems", "1 error", "2 errors, 1 warning"."""
    parts = [f"{n} {word}{'' if n == 1 else 's'}" for n, word in ((errors, "error"), (warnings, "warning")) if n]
    return ", ".join(parts) or "No problems"


class MainWindow(QMainWindow):
    def __init__(self, store: JourneyStore, host: EngineHost | None = None) -> None:
        super().__init__()
        guard_application()     # the wheel edits no field without focus, in every window
        app = QApplication.instance()
        if isinstance(app, QApplication) and not getattr(app, "_journey_theme", False):
            apply_theme(app)
            app._journey_theme = True  # type: ignore[attr-defined]
        self.store = store
        self.editor: CanvasEditor | None = None
        self.session: EditorSession | None = None
        self.undo_group = QUndoGroup(self)
        self.setWindowTitle("Journey Studio")
        self.resize(1400, 900)

        self.journeys = JourneyList(library.example_choices())
        self.step_palette = Palette()        # not `palette`: that is QWidget.palette(), the colours
        steps_title = QLabel("Steps")
        steps_title.setObjectName("panelTitle")
        steps_title.setContentsMargins(10, 6, 0, 0)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.journeys, 1)
        left_layout.addWidget(steps_title)
        left_layout.addWidget(self.step_palette)

        self.canvas_stack = QStackedWidget()
        self.empty = QLabel("No journey is open.\n\nChoose one on the left, or create one with “+ New”.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setObjectName("help")
        self.canvas_stack.addWidget(self.empty)
        self.problems = ProblemsPanel()
        self.middle = middle = QSplitter(Qt.Orientation.Vertical)
        middle.addWidget(self.canvas_stack)
        middle.addWidget(self.problems)
        middle.setStretchFactor(0, 1)
        middle.setCollapsible(0, False)
        middle.setSizes([800, 36])
        self._problems_sized_by_user = False
        middle.splitterMoved.connect(lambda *_: setattr(self, "_problems_sized_by_user", True))
        self.inspector = Inspector()
        self.inspector.people_requested.connect(self.show_step_people)
        # The selected step's settings, and beside them its message as a contact gets it (app/ui/preview_pane.py).
        self.preview = PreviewPane(store.engine)
        self.side_tabs = QTabWidget()
        self.side_tabs.setObjectName("sideTabs")
        self.side_tabs.setDocumentMode(True)
        self.side_tabs.addTab(self.inspector, "Step")
        self.side_tabs.addTab(self.preview, "Preview")
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(middle)
        splitter.addWidget(self.side_tabs)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([230, 850, 320])
        self.side_splitter = splitter
        self.side_tabs.currentChanged.connect(self._side_tab_changed)
        self.preview.beside_toggled.connect(self.show_preview_beside)
        self.setCentralWidget(splitter)

        self.zoom_label, self.problem_label, self.save_label = QLabel(), QLabel(), QLabel()
        for label in (self.save_label, self.problem_label, self.zoom_label):
            self.statusBar().addPermanentWidget(label)
        self.actions_ = build_menus(self)
        TimezoneEditor.business_zone = self.business_zone()
        # The engine runs under the window; its scheduled jobs start with start_engine().
        self.host = host or EngineHost(store.engine, parent=self)
        self.run_controls = RunControls(self, self.host, self.actions_)
        self.statusBar().addPermanentWidget(self.run_controls.range)
        self.statusBar().addPermanentWidget(self.run_controls.label)
        from .delivery_menu import install_delivery_actions    # Channels…, unknown fate, Send a test…

        self.unknown_fate = install_delivery_actions(self)
        from .receiver_page import install_receiver_action     # File → Receiver… (issue 13 §2)

        install_receiver_action(self)
        from .connections_menu import install_connections_action    # File → Connections… (issue 13)

        install_connections_action(self)
        from .test_run_dock import install_test_run        # Journey → Test run…, its dock and the lit canvas

        self.test_run = install_test_run(self)
        from .background_service import install_background_service   # the engine elsewhere; keep running

        self.background_service = install_background_service(self)
        self._connect_list()
        self.refresh_list()
        self._update_status()

    def _side_tab_changed(self, index: int) -> None:
        """The Preview tab widens the side panel to show a phone-wide message (taken from the canvas)."""
        if self.side_tabs.widget(index) is not self.preview:
            return
        sizes = self.side_splitter.sizes()
        wanted = PREVIEW_WIDTH - sizes[2]
        if wanted > 0 and sizes[1] - wanted >= 400:
            self.side_splitter.setSizes([sizes[0], sizes[1] - wanted, PREVIEW_WIDTH])

    def show_preview_beside(self, beside: bool) -> None:
        """The preview in its own column beside the inspector (to watch it while editing), or back in its tab."""
        splitter = self.side_splitter
        if beside and splitter.indexOf(self.preview) < 0:
            sizes = splitter.sizes()
            self.side_tabs.removeTab(self.side_tabs.indexOf(self.preview))
            self.side_tabs.tabBar().hide()
            splitter.addWidget(self.preview)
            self.preview.show()
            width = min(PREVIEW_WIDTH, max(sizes[1] - 400, 300))
            splitter.setSizes([sizes[0], sizes[1] + sizes[2] - 320 - width, 320, width])
        elif not beside and splitter.indexOf(self.preview) >= 0:
            self.side_tabs.addTab(self.preview, "Preview")
            self.side_tabs.tabBar().show()
            self.side_tabs.setCurrentWidget(self.preview)
        self.preview.beside_button.setChecked(beside)

    # --- journeys ---------------------------------------------------------------

    def _connect_list(self) -> None:
        self.journeys.open_requested.connect(self.open_journey)
        self.journeys.new_requested.connect(self.new_journey)
        self.journeys.duplicate_requested.connect(lambda jid: library.duplicate(self, jid))
        self.journeys.rename_requested.connect(lambda jid: library.rename(self, jid))
        self.journeys.delete_requested.connect(lambda jid: library.delete(self, jid))
        self.step_palette.add_requested.connect(lambda kind: self.canvas_op(lambda v: v.add_node(kind))())
        self.problems.node_requested.connect(self.reveal_node)
        self.problems.width_changed.connect(self.fit_problems)

    def refresh_list(self) -> None:
        current = self.session.journey_id if self.session and self.session.journey_id else ""
        self.journeys.set_rows(self.store.list(), current)

    def open_journey(self, journey_id: str) -> bool:
        if self.session is not None and self.session.journey_id == journey_id:
            return True
        if not self.leave_current():
            self.journeys.select(self.session.journey_id or "" if self.session else "")
            return False
        row = self.store.get(journey_id)
        if row is None:
            return False
        try:
            journey = from_document(self.store.load_draft(journey_id), f"journey {row.name!r}")
        except JourneyFileError as exc:
            QMessageBox.warning(self, "Journey Studio", f"This journey cannot be opened.\n\n{exc}")
            return False
        self.show_journey(journey, journey_id)
        self.journeys.select(journey_id)
        return True

    def new_journey(self, example: str) -> None:
        journey_id = library.create(self, example)
        if journey_id:
            self.refresh_list()
            self.open_journey(journey_id)

    def refresh_catalog(self) -> None:
        """New contact attributes or event properties (after an import) count as known variables."""
        if self.editor is not None:
            catalog = self._catalog()
            self.editor.catalog = self.editor.validator.catalog = self.inspector.catalog = catalog
            self.editor.validator.public_url = public_url(self.store.engine)
            self.editor.validator.run_now()

    def _catalog(self) -> VariableCatalog:
        """Contact attributes and event properties seen in the store (one small query)."""
        names = known_variables(self.store.engine)
        return VariableCatalog(names.contact_attributes, names.event_properties)

    def show_journey(self, journey: Journey, journey_id: str | None) -> CanvasEditor:
        """Puts a journey on the canvas; `journey_id` None means it is not in the store."""
        self.close_editor()
        editor = CanvasEditor(journey, catalog=self._catalog(), public_url=public_url(self.store.engine))
        self.editor = editor
        self.session = EditorSession(self.store, journey_id, editor)
        self.session.saved.connect(self._saved)
        self.session.save_failed.connect(lambda msg: self.statusBar().showMessage(f"Not saved: {msg}", 8000))
        self.session.dirty_changed.connect(lambda _d: self._update_status())
        self.canvas_stack.addWidget(editor)
        self.canvas_stack.setCurrentWidget(editor)
        self.undo_group.addStack(editor.doc.undo_stack)
        self.undo_group.setActiveStack(editor.doc.undo_stack)
        self.inspector.set_document(editor.doc, editor.scene, editor.catalog)
        self.preview.set_document(editor.doc, editor.scene)
        editor.validator.problems_changed.connect(lambda _p: self._show_problems())
        editor.doc.journey_changed.connect(self._update_title)
        editor.view.zoom_changed.connect(lambda _z: self._update_status())
        editor.view.message.connect(lambda text: self.statusBar().showMessage(text, 6000))
        editor.view.edit_requested.connect(self.inspector.focus_first_field)
        editor.view.people_requested.connect(self.show_step_people)
        editor.minimap.set_wanted(self.actions_["minimap"].isChecked())
        editor.scene.snap = self.actions_["snap"].isChecked()
        self._show_problems()
        self._update_title()
        self.run_controls.journey_changed()
        QTimer.singleShot(0, editor.view.fit)
        return editor

    def close_editor(self) -> None:
        if self.editor is None:
            return
        self.inspector.set_document(None, None)
        self.preview.set_document(None, None)
        self.editor.validator.shutdown()
        self.undo_group.removeStack(self.editor.doc.undo_stack)
        self.canvas_stack.removeWidget(self.editor)
        self.editor.deleteLater()
        self.editor = self.session = None
        self.problems.show_problems([], None)
        self.journeys.select("")
        self._update_title()
        self._update_status()
        self.run_controls.journey_changed()

    def leave_current(self) -> bool:
        """Saves the open journey; if that fails, asks before anything is lost."""
        session = self.session
        if session is None or not session.dirty:
            return True
        if session.in_store and session.save():
            return True
        why = session.error or "It is not in the journey library."
        answer = QMessageBox.warning(
            self, "Unsaved changes", f"The changes to “{session.editor.journey.name}” could not be saved.\n\n{why}",
            QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Discard

    def save_now(self) -> None:
        if self.session is not None:
            if not self.session.in_store:
                library.import_journey(self, self.session.editor.journey)
            elif self.session.save():
                self.statusBar().showMessage("Saved", 2000)

    def show_step_people(self, node_id: str, mode: str) -> None:
        """"Who is here?" (mode "here") or "Who went this way?" (mode "went") for a step on the canvas."""
        from .step_people import open_step_people

        open_step_people(self, node_id, mode)

    def _saved(self) -> None:
        self.refresh_list()
        self._update_status()

    def import_file(self) -> None:
        library.import_file(self)

    def export_file(self) -> None:
        if self.editor is not None:
            library.export_file(self, self.editor.journey)

    # --- canvas -----------------------------------------------------------------

    def canvas_op(self, op: Callable[[CanvasView], Any]) -> Callable[[], None]:
        """Wraps an operation on the open canvas for a menu action."""
        def run() -> None:
            if self.editor is not None:
                op(self.editor.view)
        return run

    def reveal_node(self, node_id: str) -> None:
        if self.editor is not None:
            self.editor.view.centre_on_node(node_id)

    def toggle_snap(self) -> None:
        if self.editor is not None:
            self.editor.scene.snap = self.actions_["snap"].isChecked()

    def toggle_minimap(self) -> None:
        if self.editor is not None:
            self.editor.minimap.set_wanted(self.actions_["minimap"].isChecked())

    # --- status -----------------------------------------------------------------

    def _show_problems(self) -> None:
        editor = self.editor
        if editor is None:
            return
        self.problems.show_problems(editor.validator.problems, editor.journey)
        self.fit_problems()
        self._update_status()

    def fit_problems(self) -> None:
        """The problems panel takes the room its rows need, unless the user sized it."""
        if self._problems_sized_by_user:
            return
        sizes = self.middle.sizes()
        wanted = self.problems.preferred_height()
        if sum(sizes) > 0 and sizes[1] != wanted:
            self.middle.setSizes([sum(sizes) - wanted, wanted])

    def _update_title(self) -> None:
        name = self.editor.journey.name if self.editor else ""
        self.setWindowTitle(f"{name} — Journey Studio" if name else "Journey Studio")

    def _update_status(self) -> None:
        editor, session = self.editor, self.session
        self.problems.setVisible(editor is not None)
        update_enabled(self.actions_, editor is not None)
        if editor is None or session is None:
            for label in (self.zoom_label, self.problem_label, self.save_label):
                label.setText("")
            return
        self.zoom_label.setText(f"Zoom {round(editor.view.zoom() * 100)}%")
        problems = editor.validator.problems
        errors = sum(p.severity == ERROR for p in problems)
        self.problem_label.setText(problem_count(errors, len(problems) - errors))
        self.save_label.setText("Unsaved changes" if session.dirty else
                                ("Saved" if session.in_store else "Not in the library"))

    # --- app settings -------------------------------------------------------------

    def business_zone(self) -> str:
        """The business's time zone from the database ("" when not set)."""
        try:
            return business_timezone(self.store.engine) or ""
        except (SQLAlchemyError, StoreError):        # e.g. busy (app/store/faults.py): no zone shown this time
            return ""

    def open_settings(self, first_start: bool = False) -> SettingsDialog:
        """Shows the settings dialog without blocking (the engine and the window carry on)."""
        dialog = SettingsDialog(self.store.engine, self, first_start=first_start,
                                background=None if first_start else self.background_service)
        dialog.saved.connect(self._business_zone_changed)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def ask_business_timezone(self) -> SettingsDialog | None:
        """On first start: asks for the business's time zone when none is set yet."""
        if self.business_zone():
            return None
        return self.open_settings(first_start=True)

    def _business_zone_changed(self, name: str) -> None:
        TimezoneEditor.business_zone = name
        if self.editor is not None:
            self.inspector.show_target(self.inspector.target)     # the journey's zone picker names it
        self.statusBar().showMessage(f"The business's time zone is now {name}", 6000)

    def start_engine(self) -> None:
        """Active journeys move on their own while the app is open."""
        self.host.job_failed.connect(
            lambda job, msg: self.statusBar().showMessage(f"The engine's {job} job failed (it will retry): {msg}",
                                                          10_000))
        self.host.delivery_notice.connect(lambda text: self.statusBar().showMessage(text, 15_000))
        self.host.receiver_notice.connect(lambda text: self.statusBar().showMessage(text, 10_000))
        self.host.start()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        from .background_service import ask_before_close

        if ask_before_close(self):       # asked once: keep active journeys running in the background?
            event.ignore()
            return
        if self.leave_current():
            self.run_controls.timer.stop()
            self.host.shutdown()
            event.accept()
        else:
            event.ignore()

    # --- screenshots ------------------------------------------------------------

    def screenshot(self, path: str, journey_file: str | None = None) -> int:
        """Renders the window at 1400×900 with a journey fitted in view and writes a PNG."""
        if journey_file:
            try:
                self.show_journey(load(journey_file), None)
            except JourneyFileError as exc:
                print(f"journey-studio: {exc}")
                return 2
        elif not self._open_default():
            return 2
        self.resize(SCREENSHOT_SIZE)
        self.show()
        QApplication.processEvents()
        assert self.editor is not None
        self.editor.validator.wait()     # checked on the worker; the window's events go on meanwhile
        self._show_problems()            # sizes the problems panel, so the canvas has its final size
        self.run_controls.poll()         # the journey's status and numbers, as a user would see them
        deadline = time.monotonic() + 10
        while self.host.busy() and time.monotonic() < deadline:
            QApplication.processEvents()
        QApplication.processEvents()
        self.editor.view.fit()
        QApplication.processEvents()
        image = self.grab().toImage()
        if image.size() != SCREENSHOT_SIZE:
            image = image.scaled(SCREENSHOT_SIZE)
        return 0 if image.save(path) else 2

    def open_recent(self) -> None:
        """At start-up: the journey edited last, so work continues where it stopped."""
        rows = self.store.list()
        if rows and self.editor is None:
            self.open_journey(rows[0].id)

    def _open_default(self) -> bool:
        row = self.store.find("Cart abandonment")
        if row is not None:
            return self.open_journey(row.id)
        try:
            self.show_journey(library.load_example("cart_abandonment"), None)
        except (JourneyFileError, StoreError):
            return False
        return True
