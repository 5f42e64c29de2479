"""Menus, toolbar and shortcuts of the main window. Canvas actions act on the
journey that is open; Undo and Redo come from a QUndoGroup, so their text names
what they will do ("Undo Add Wait")."""
from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Callable

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QToolBar, QToolButton

from app.canvas.style import kind_icon
from app.journey.registry import all_kinds

from .contacts_dialog import open_contacts
from .data_import import import_contacts_file, import_events_file, import_orders_file
from .icons import ui_icon

if TYPE_CHECKING:
    from app.canvas.view import CanvasView

    from .main_window import MainWindow

Key = QKeySequence.StandardKey


def _action(window: "MainWindow", menu: QMenu, text: str, slot: Callable[[], object],
            *shortcuts: QKeySequence | Key | str, tip: str = "") -> QAction:
    action = QAction(text, window)
    keys = [QKeySequence(s) if not isinstance(s, QKeySequence) else s for s in shortcuts]
    if keys:
        action.setShortcuts(keys)
    action.triggered.connect(lambda _=False: slot())
    if tip:
        action.setToolTip(tip)
    menu.addAction(action)
    return action


def _add_node(view: "CanvasView", *, kind: str) -> str:
    return view.add_node(kind)


def build_menus(window: "MainWindow") -> dict[str, QAction]:
    bar = window.menuBar()
    a: dict[str, QAction] = {}
    ed = window.canvas_op

    file = bar.addMenu("&File")
    a["new"] = _action(window, file, "New journey", lambda: window.new_journey(""), Key.New)
    a["import"] = _action(window, file, "Import journey file…", window.import_file, "Ctrl+I")
    a["export"] = _action(window, file, "Export journey file…", window.export_file, "Ctrl+E")
    file.addSeparator()
    a["import_contacts"] = _action(window, file, "Import contacts (CSV)…", lambda: import_contacts_file(window),
                                   tip="Add or update contacts from a CSV file with an id column")
    a["import_events"] = _action(window, file, "Import events (JSON lines)…", lambda: import_events_file(window),
                                 tip="Feed events (carts, orders, opens…, or Segment calls) to the running journeys")
    a["import_orders"] = _action(window, file, "Import orders (Shopify, WooCommerce)…",
                                 lambda: import_orders_file(window),
                                 tip="A shop's order history: spend, order counts and last orders of its customers")
    a["contacts"] = _action(window, file, "Contacts…", lambda: open_contacts(window), "Ctrl+Shift+K",
                            tip="Find a contact and see its consent per channel and its history")
    file.addSeparator()
    a["save"] = _action(window, file, "Save", window.save_now, Key.Save)
    a["settings"] = _action(window, file, "Settings…", lambda: window.open_settings(), Key.Preferences, "Ctrl+,",
                            tip="The business's time zone, for contacts without one")
    a["settings"].setMenuRole(QAction.MenuRole.PreferencesRole)
    file.addSeparator()
    a["quit"] = _action(window, file, "Quit", window.close, Key.Quit)

    edit = bar.addMenu("&Edit")
    a["undo"] = window.undo_group.createUndoAction(window, "Undo")
    a["undo"].setShortcuts([QKeySequence(Key.Undo)])
    a["redo"] = window.undo_group.createRedoAction(window, "Redo")
    a["redo"].setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
    edit.addActions([a["undo"], a["redo"]])
    edit.addSeparator()
    a["cut"] = _action(window, edit, "Cut", ed(lambda v: v.cut()), Key.Cut)
    a["copy"] = _action(window, edit, "Copy", ed(lambda v: v.copy()), Key.Copy)
    a["paste"] = _action(window, edit, "Paste", ed(lambda v: v.paste()), Key.Paste)
    a["duplicate"] = _action(window, edit, "Duplicate", ed(lambda v: v.duplicate()), "Ctrl+D")
    a["delete"] = _action(window, edit, "Delete", ed(lambda v: v.delete_selection()), "Del", "Backspace")
    edit.addSeparator()
    a["select_all"] = _action(window, edit, "Select all", ed(lambda v: v.select_all()), Key.SelectAll)

    insert = bar.addMenu("&Insert")
    for kind in all_kinds():
        act = _action(window, insert, kind.title, ed(partial(_add_node, kind=kind.id)), tip=kind.description)
        a[f"insert:{kind.id}"] = act
        act.setIcon(kind_icon(kind.icon, kind.colour, 20))
    insert.addSeparator()
    a["note"] = _action(window, insert, "Sticky note", ed(lambda v: v.add_note()), "Ctrl+Shift+N")

    view = bar.addMenu("&View")
    a["zoom_in"] = _action(window, view, "Zoom in", ed(lambda v: v.zoom_in()), Key.ZoomIn, "Ctrl+=", "+")
    a["zoom_out"] = _action(window, view, "Zoom out", ed(lambda v: v.zoom_out()), Key.ZoomOut, "-")
    a["fit"] = _action(window, view, "Fit journey", ed(lambda v: v.fit()), "Ctrl+0")
    a["actual"] = _action(window, view, "Actual size (100%)", ed(lambda v: v.actual_size()), "Ctrl+1")
    view.addSeparator()
    a["layout"] = _action(window, view, "Auto-layout", ed(lambda v: v.arrange()), "Ctrl+L",
                          tip="Arrange the steps left to right")
    a["snap"] = _action(window, view, "Snap to grid", window.toggle_snap)
    a["snap"].setCheckable(True)
    a["minimap"] = _action(window, view, "Show minimap", window.toggle_minimap, "Ctrl+M")
    a["minimap"].setCheckable(True)
    a["minimap"].setChecked(True)

    journey = bar.addMenu("&Journey")
    # Connected by RunControls, which knows the journey's state; their texts follow it ("Resume").
    for key, text, shortcut in (("activate", "Activate", "Ctrl+Shift+A"), ("pause", "Pause", ""),
                                ("stop", "Stop…", "")):
        a[key] = QAction(text, window)
        if shortcut:
            a[key].setShortcut(QKeySequence(shortcut))
        journey.addAction(a[key])

    # Keys that also mean something in text fields and lists act on the canvas only when it
    # has the focus: Backspace in the inspector must never delete the selected step.
    for key in ("delete", "zoom_in", "zoom_out", "select_all"):
        a[key].setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        window.canvas_stack.addAction(a[key])

    for key, icon in (("new", "new"), ("import", "import"), ("export", "export"), ("save", "save"),
                      ("undo", "undo"), ("redo", "redo"), ("delete", "delete"), ("zoom_in", "zoom_in"),
                      ("zoom_out", "zoom_out"), ("fit", "fit"), ("actual", "actual_size"), ("layout", "layout"),
                      ("note", "note"), ("minimap", "minimap"), ("activate", "activate"), ("pause", "pause"),
                      ("stop", "stop")):
        a[key].setIcon(ui_icon(icon))
    _build_toolbar(window, a)
    return a


# Actions that need an open journey: greyed out when none is open.
NEEDS_JOURNEY = ("export", "save", "cut", "copy", "paste", "duplicate", "delete", "select_all", "zoom_in", "zoom_out",
                 "fit", "actual", "layout", "note")


def update_enabled(a: dict[str, QAction], journey_open: bool) -> None:
    for key, action in a.items():
        if key in NEEDS_JOURNEY or key.startswith("insert:"):
            action.setEnabled(journey_open)


def _tip(action: QAction, text: str) -> None:
    """A tooltip that names the action and its first shortcut."""
    keys = action.shortcuts()
    shortcut = keys[0].toString(QKeySequence.SequenceFormat.NativeText) if keys else ""
    action.setToolTip(f"{text} ({shortcut})" if shortcut else text)


def _build_toolbar(window: "MainWindow", a: dict[str, QAction]) -> QToolBar:
    """Icons for the view controls, icon and word for the actions a newcomer looks for."""
    tools = window.addToolBar("Main")
    tools.setObjectName("mainToolbar")
    tools.setMovable(False)
    tools.setIconSize(QSize(20, 20))
    tools.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    icon_only = {"undo", "redo", "zoom_out", "zoom_in", "fit", "actual"}
    for key in ("undo", "redo", None, "zoom_out", "zoom_in", "fit", "actual", None, "layout", "note", None, "save",
                None, "activate", "pause", "stop"):
        if key is None:
            tools.addSeparator()
            continue
        tools.addAction(a[key])
        if key in icon_only:
            button = tools.widgetForAction(a[key])
            if isinstance(button, QToolButton):
                button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
    a["zoom_in"].setIconText("Zoom in")
    a["zoom_out"].setIconText("Zoom out")
    a["fit"].setIconText("Fit")
    a["actual"].setIconText("100%")
    a["note"].setIconText("Note")
    a["stop"].setIconText("Stop")
    for key, text in (("zoom_in", "Zoom in"), ("zoom_out", "Zoom out"), ("fit", "Fit the journey in view"),
                      ("actual", "Actual size, 100%"), ("layout", "Arrange the steps left to right"),
                      ("note", "Add a sticky note"), ("save", "Save the journey")):
        _tip(a[key], text)
    return tools
