"""The Test run dock below the canvas and its action: Journey → Test run… (Ctrl+T) and a toolbar button."""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu, QToolBar

from app.canvas.editor import CanvasEditor

from .icons import ui_icon
from .test_run_panel import TestRunPanel

if TYPE_CHECKING:
    from .main_window import MainWindow


class TestRunDock(QDockWidget):
    """The panel's dock; closing it (its × button) ends the test."""
    __test__ = False

    def __init__(self, panel: TestRunPanel, window: QMainWindow) -> None:
        super().__init__("Test run — the journey on a virtual clock, nothing is sent", window)
        self.panel = panel

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.panel.dock_shown(False)
        super().closeEvent(event)


def install_test_run(window: "MainWindow") -> TestRunPanel:
    """Adds Journey → Test run… (Ctrl+T, and a toolbar button before Activate) and its dock below the canvas."""
    panel = TestRunPanel(window)
    dock = TestRunDock(panel, window)
    dock.setObjectName("testRunDock")
    dock.setWidget(panel)
    dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable | QDockWidget.DockWidgetFeature.DockWidgetMovable)
    dock.setAllowedAreas(Qt.DockWidgetArea.BottomDockWidgetArea | Qt.DockWidgetArea.TopDockWidgetArea)
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
    dock.hide()
    panel.dock = dock
    action = QAction(ui_icon("test_run"), "Test run…", window)
    action.setShortcut(QKeySequence("Ctrl+T"))
    action.setToolTip("Test run (Ctrl+T): run the journey for one contact on a virtual clock and see the path")
    action.setIconText("Test run")
    action.setEnabled(False)
    action.triggered.connect(lambda _=False: open_test_run(window))
    window.actions_["test_run"] = action
    for menu_action in window.menuBar().actions():
        menu = menu_action.menu()
        if isinstance(menu, QMenu) and menu_action.text().replace("&", "") == "Journey":
            if menu.actions():
                first = menu.actions()[0]
                menu.insertAction(first, action)
                menu.insertSeparator(first)
            else:
                menu.addAction(action)
    toolbar = window.findChild(QToolBar, "mainToolbar")
    activate = window.actions_.get("activate")
    if toolbar is not None and activate is not None:
        toolbar.insertAction(activate, action)
        toolbar.insertSeparator(activate)

    def editor_changed(_index: int) -> None:
        current = window.canvas_stack.currentWidget()
        editor = current if isinstance(current, CanvasEditor) else None
        action.setEnabled(editor is not None)
        panel.set_editor(editor)
        if editor is None:
            dock.hide()

    window.canvas_stack.currentChanged.connect(editor_changed)
    return panel


def open_test_run(window: QMainWindow) -> TestRunPanel | None:
    """Shows the Test run dock for the open journey (None when no journey is open)."""
    panel = window.findChild(TestRunPanel, "testRunPanel")
    if panel is None or panel.editor is None or panel.dock is None:
        return None
    panel.dock.show()
    panel.dock.raise_()
    panel.dock_shown(True)
    panel.run_button.setFocus()
    return panel
